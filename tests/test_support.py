"""The test helpers' own guarantees: missing samples fail loudly, and only slow tests start servers."""

from __future__ import annotations

from pathlib import Path

import pytest
import shared_samples
from servers import start_server
from shared_samples import sample, samples


def test_missing_samples_fail_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ../shared/samples a test fails naming the directory, instead of running over nothing."""
    monkeypatch.setattr(shared_samples, "SAMPLES", tmp_path / "nowhere")
    with pytest.raises(pytest.fail.Exception, match=r"\.\./shared/samples not found beside the checkout"):
        samples("hl7v2/lab", "*.hl7")
    with pytest.raises(pytest.fail.Exception, match="not found beside the checkout"):
        sample("dicom", "CT_small.dcm")


def test_an_empty_glob_or_a_missing_file_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kind with no file matching, or a sample that is not there, fails too."""
    (tmp_path / "dicom").mkdir()
    monkeypatch.setattr(shared_samples, "SAMPLES", tmp_path)
    with pytest.raises(pytest.fail.Exception, match=r"no sample matches dicom/\*\.dcm"):
        samples("dicom", "*.dcm")
    with pytest.raises(pytest.fail.Exception, match=r"sample dicom/CT_small\.dcm not found"):
        sample("dicom", "CT_small.dcm")


def test_the_samples_are_there() -> None:
    """The checkout has its ../shared/samples: every kind the tests read holds files."""
    for kind in ("hl7v2/lab", "hl7v2/pharmacy", "hl7v2/imaging", "dicom", "profiles"):
        assert samples(kind)


def test_a_test_not_marked_slow_cannot_start_a_server(tmp_path: Path) -> None:
    """`-m "not slow"` must start no server: start_server refuses in a test without the marker."""
    with pytest.raises(RuntimeError, match=r"mark it \(or its module\) with pytest\.mark\.slow"):
        start_server(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
