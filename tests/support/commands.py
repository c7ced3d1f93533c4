"""Run `passerelle` commands: in this process through click's CliRunner, or as a real subprocess.

`invoke` is for every command that needs no listening hub (check-config, db upgrade, partners,
journal, messages, show, certify, dicom import). `run_hub` is for the ones where a separate
process is the point: `serve`, `send` against a running hub, `python -m hub` itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from click.testing import CliRunner, Result
from servers import ROOT
from structlog.testing import capture_logs

from hub.cli import main


def invoke(*args: str, env: Mapping[str, str] | None = None) -> Result:
    """`passerelle ARGS` in this process; exit code, stdout and stderr as a subprocess would give them.

    `env` is set for the call only (PASSERELLE_CONFIG, PASSERELLE_OPERATOR...). An exception
    other than SystemExit propagates, so a traceback fails the test. structlog events go to a
    list for the call, whatever an earlier test configured, never into the output read.
    """
    with capture_logs():
        return CliRunner().invoke(main, list(args), env=dict(env or {}), catch_exceptions=False)


def run_hub(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m hub ARGS` as a subprocess from the checkout's root, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        timeout=timeout,
    )
