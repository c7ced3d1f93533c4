"""A short atheris run of the parser target, seeded with the shared samples; it must find nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from shared_samples import samples

ROOT = Path(__file__).resolve().parents[2]


def test_short_atheris_run_finds_no_crash(tmp_path: Path) -> None:
    """15 seconds of coverage-guided fuzzing from the sample corpus: exit 0, no crash file."""
    pytest.importorskip("atheris", reason="atheris is installed by `make install` (test extra)")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for sample in samples("hl7v2", "*/*.hl7"):
        (corpus / sample.name).write_bytes(sample.read_bytes())
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "fuzz" / "atheris_parser.py"),
            "-max_total_time=15",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert not list(tmp_path.glob("crash-*"))
