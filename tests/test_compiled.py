"""The mypyc build (setup.py): in use after `make install`, and the same answers as the sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parent / "support"
HOT = (
    "hub.hl7.parser", "hub.hl7.message", "certification.structure", "certification.rules", "mappings.lab",
    "hub.store.driver", "hub.store.records", "hub.governance.journal", "hub.engine.entries",
)  # fmt: skip


def _files(pure: bool) -> list[str]:
    code = "import importlib, sys\n"
    if pure:
        code += "from pure import prefer_sources; prefer_sources()\n"
    code += f"print(*[importlib.import_module(m).__file__ for m in {HOT!r}])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=SUPPORT, check=True)
    return run.stdout.split()


@pytest.mark.skipif(bool(os.environ.get("PASSERELLE_PURE")), reason="installed with PASSERELLE_PURE=1 on purpose")
def test_the_hot_path_runs_compiled_and_the_sources_stay_loadable() -> None:
    """`make install` leaves C extensions for the hot modules; `prefer_sources` still finds the .py files."""
    assert all(f.endswith(".so") for f in _files(pure=False))
    assert all(f.endswith(".py") for f in _files(pure=True))


def test_compiled_and_pure_builds_give_the_same_answers_for_every_sample() -> None:
    """Fields, values, warnings, rule issues, ACK and records: byte for byte the same JSON."""

    def digest(*flags: str) -> str:
        run = subprocess.run(
            [sys.executable, str(SUPPORT / "digest.py"), *flags], capture_output=True, text=True, check=True
        )
        return run.stdout

    compiled, pure = digest(), digest("--pure")
    assert len(compiled) > 100_000  # every sample made it through
    assert compiled == pure


def test_compiled_and_pure_writers_leave_the_same_rows() -> None:
    """A fixed traffic through the store: the ACKs and every row it adds, journal hashes included, byte for byte."""

    def digest(*flags: str) -> str:
        run = subprocess.run(
            [sys.executable, str(SUPPORT / "store_digest.py"), *flags],
            capture_output=True, text=True, check=True, cwd=SUPPORT,
        )  # fmt: skip
        return run.stdout

    compiled, pure = digest(), digest("--pure")
    rows = json.loads(compiled)["rows"]
    assert len(rows["journal"]) == 11 and len(rows["patients"]) == 2  # every attempt journaled, both patients
    assert compiled == pure
