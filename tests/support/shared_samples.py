"""The sample messages of ../shared/samples (the directory beside the checkout), or a loud failure.

Every test that reads a sample goes through here: a missing directory, a missing file or a
glob that matches nothing fails (at collection when a parametrization needs the list), instead
of a parametrized test quietly running over no case at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
MISSING = "../shared/samples not found beside the checkout"


def samples_dir(kind: str = "") -> Path:
    """``../shared/samples/<kind>`` (a folder such as ``hl7v2/lab`` or ``dicom``), which must exist."""
    if not SAMPLES.is_dir():
        pytest.fail(f"{MISSING} (looked for {SAMPLES})", pytrace=False)
    folder = SAMPLES / kind
    if not folder.is_dir():
        pytest.fail(f"{folder} not found: ../shared/samples is incomplete", pytrace=False)
    return folder


def samples(kind: str, pattern: str = "*") -> list[Path]:
    """The files of ``../shared/samples/<kind>`` matching `pattern`, sorted; never an empty list."""
    found = sorted(p for p in samples_dir(kind).glob(pattern) if p.is_file())
    if not found:
        pytest.fail(f"no sample matches {kind}/{pattern} in {SAMPLES}", pytrace=False)
    return found


def sample(kind: str, name: str) -> Path:
    """One sample file, ``../shared/samples/<kind>/<name>``, which must exist."""
    path = samples_dir(kind) / name
    if not path.is_file():
        pytest.fail(f"sample {kind}/{name} not found in {SAMPLES}", pytrace=False)
    return path
