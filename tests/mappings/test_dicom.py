"""DICOM reading with pydicom, over every shared sample and every file pydicom bundles.

Each reads, or fails with a DicomError that says why: never another exception, never pixel data kept.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from shared_samples import sample

from mappings.dicom import DicomError, DicomObject, read_dicom

PYDICOM_DATA = Path(pydicom.__file__).parent / "data"
BUNDLED = sorted(
    p for p in PYDICOM_DATA.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: str(p.relative_to(PYDICOM_DATA)))
def test_every_bundled_file_reads_or_fails_clearly(path: Path) -> None:
    """Pydicom's own test files: a DicomObject, or a DicomError with French and English text."""
    data = path.read_bytes()
    outcome: DicomObject | DicomError
    try:
        outcome = read_dicom(data)
    except DicomError as err:
        outcome = err
    if isinstance(outcome, DicomError):
        assert outcome.text_fr and outcome.text_en
        assert len(outcome.text_en) < 120
        return
    obj = outcome
    assert obj.sop_instance_uid and obj.study_uid
    assert obj.size == len(data)


def test_bundled_files_mostly_import() -> None:
    """The reader is not refusing everything: most bundled Part 10 files import."""
    ok = 0
    for path in BUNDLED:
        try:
            read_dicom(path.read_bytes())
            ok += 1
        except DicomError:
            pass
    assert ok >= 60, ok


def test_samples_metadata() -> None:
    """What is kept of the shared samples: identifiers, modality, dates, French names, SR text."""
    overlay = read_dicom(sample("dicom", "examples_overlay.dcm").read_bytes())
    assert (overlay.accession, overlay.modality, overlay.study_date) == ("8000000000330109", "MR", "2005-11-30")
    french = read_dicom(sample("dicom", "chrFren.dcm").read_bytes())
    assert (french.patient.family, french.patient.given, french.charset) == ("Buc", "Jérôme", "ISO_IR 100")
    basic = read_dicom(sample("dicom", "reportsi.dcm").read_bytes())
    assert "Report Text" in basic.report_text
    comprehensive = read_dicom(sample("dicom", "test-SR.dcm").read_bytes())
    assert "Diameter: 3 cm" in comprehensive.report_text
    ct = read_dicom(sample("dicom", "CT_small.dcm").read_bytes())
    assert ct.report_text == ""
    assert not hasattr(ct, "pixel_data")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "not a DICOM Part 10 file"),
        (b"\0" * 128 + b"DICX" + b"\0" * 100, "not a DICOM Part 10 file"),
        (sample("dicom", "no_meta.dcm").read_bytes(), "not a DICOM Part 10 file"),
        (sample("dicom", "CT_small.dcm").read_bytes()[:20000], "truncated DICOM file"),
        (sample("dicom", "CT_small.dcm").read_bytes()[:-1], "truncated DICOM file"),
        (sample("dicom", "MR_small.dcm").read_bytes()[:5000], "truncated DICOM file"),
    ],
    ids=["empty", "no-DICM", "no-meta", "cut-in-pixels", "one-byte-short", "cut-in-pixels-mr"],
)
def test_bad_files_get_a_clear_error(data: bytes, expected: str) -> None:
    """No preamble, or truncated: the error says which."""
    with pytest.raises(DicomError) as err:
        read_dicom(data)
    assert err.value.text_en.startswith(expected)
