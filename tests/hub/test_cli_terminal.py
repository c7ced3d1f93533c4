"""What `passerelle` prints never drives the terminal: stored control characters are shown, not sent."""

from __future__ import annotations

from pathlib import Path

import pydicom
from commands import invoke
from shared_samples import sample

from hub.cli.common import printable


def test_printable_shows_control_characters() -> None:
    """ESC, NUL and C1 become \\xNN; TAB and LF stay."""
    assert printable("a\x1b[2Jb\x00c\x9bd\te\nf") == "a\\x1b[2Jb\\x00c\\x9bd\te\nf"


def test_show_patient_escapes_a_name_from_a_dicom_object(tmp_path: Path) -> None:
    """A DICOM Patient's Name holding ESC [2J (clear screen) is stored as sent, and printed escaped."""
    ds = pydicom.dcmread(sample("dicom", "CT_small.dcm"))
    ds.PatientName = "Evil\x1b[2J^Name"
    ds.PatientID = "ESC-TEST-1"
    path = tmp_path / "evil.dcm"
    ds.save_as(path)
    config = tmp_path / "c.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'h.db'}\n")
    assert invoke("db", "upgrade", "--config", str(config)).exit_code == 0
    imported = invoke("dicom", "import", "--config", str(config), str(path))
    assert imported.exit_code == 0, imported.output
    shown = invoke("show", "patient", "--config", str(config), "ESC-TEST-1")
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.output
    assert "Evil\\x1b[2J" in shown.output
