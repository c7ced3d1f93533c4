"""Imaging reports through the real listener: versions, encapsulated documents, exclusions."""

from __future__ import annotations

import base64
import json

import pytest
from commands import invoke
from domain_hub import DomainHub, report, send, show, show_or_none

pytestmark = pytest.mark.slow


def test_report_versions_preliminary_final_corrected(hub: DomainHub) -> None:
    """P -> F -> C keeps every version; the corrected one is current, and there is one report, not two."""
    acks = send(hub.imaging_port, report("IMG-1", "P"), report("IMG-2", "F"), report("IMG-3", "C"))
    assert [a.code for a in acks] == ["AA", "AA", "AA"], [a.errors for a in acks]
    reports = show(hub, "IMG42")["imaging"]["reports"]
    (only,) = reports
    assert only["current"]["status"] == "C"
    assert [h["status"] for h in only["history"]] == ["F", "P"]  # newest first, as for lab results
    assert only["current"]["text"] == "Poumons clairs.\nAucune lésion (C)."
    (back,) = send(hub.imaging_port, report("IMG-4", "P"))
    assert back.code == "AE"
    assert any("OBR^1^25" in e for e in back.errors)


def test_document_over_the_cap_is_refused_at_its_obx(hub: DomainHub) -> None:
    """An ED PDF over the channel's 4 KB cap: AE 104 at OBX^1^5; under it, stored."""
    big = base64.b64encode(b"%PDF-1.4\n" + b"x" * 5000).decode()
    small = base64.b64encode(b"%PDF-1.4\n" + b"x" * 100).decode()
    ed = "OBX|1|ED|18748-4^Rapport^LN||^Application^PDF^Base64^{}||||||F\r"
    (refused,) = send(hub.imaging_port, report("IMG-10", "F", ed.format(big), accession="ACC-10"))
    assert refused.code == "AE"
    assert any("OBX^1^5" in e and "104" in e for e in refused.errors), refused.errors
    (stored,) = send(hub.imaging_port, report("IMG-11", "F", ed.format(small), accession="ACC-11"))
    assert stored.code == "AA"


def test_excluded_exam_gets_aa_and_is_journaled_as_filtered(hub: DomainHub) -> None:
    """An exam under an exclusion: AA, nothing stored, the journal names the rule."""
    (ack,) = send(hub.imaging_port, report("IMG-20", "F", accession="ACC-20", code="99999-9^Recherche^LN"))
    assert ack.code == "AA"
    assert show_or_none(hub, "IMG42") == {}  # nothing stored: not even the patient
    listed = json.loads(invoke("messages", "list", "--json", "--config", str(hub.config)).stdout)
    (entry,) = [r for r in listed if r["control_id"] == "IMG-20"]
    assert entry["status"] == "filtered"
    assert entry["ack_code"] == "AA"
    assert "imaging.no-research" in entry["reason"]
