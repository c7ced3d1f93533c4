"""Every pharmacy and imaging sample through the real listener, and what `show patient` makes of the stored ones."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from commands import run_hub
from domain_hub import DomainHub, show
from shared_samples import sample, samples
from sqlalchemy import text

from hub.store.db import make_engine

pytestmark = pytest.mark.slow


# What each sample gets on channels configured as in config.yaml; the README lists the reasons.
EXPECTED = {
    "pharmacy": {
        "google_cerner_millennium_rde_o01_v23.hl7": ["AR"],  # MSH-11 empty: not P (AR 202)
        "google_rde_o01_rxd_v25.hl7": ["AR"],  # MSH-3/4 empty: no partner to recognize (AR 207)
        "hapi_ihe_connectathon_eu2011_rde_o11_v26.hl7": ["AE"],  # MSH-18 "UTF-8", IN1-1 "s", RXE-5 empty
        "hapi_ras_o17_v25_zsegs.hl7": ["AR"],  # MSH-3/4 empty: link refused
        "hapi_rde_o11_digoxin_v24.hl7": ["CE"],  # RXR before RXE (AE 100), MSH-17 "0" (AE 103)
        "ms_rde_o11_v28.hl7": ["AE"],  # PRT-2 "AD" not in hl7apy's 0206, OBX-4 empty
        "ms_rde_o25_v28.hl7": ["AA"],  # stored; W: NDC code not a DIN
        "ms_rds_o13_v28.hl7": ["AE"],  # RXR out of place, PRT-2, OBX-4
    },
    "imaging": {
        "dcm4che_file_named_orm_but_msh9_omi_o23_zds.hl7": ["AE"],  # UTF-8 bytes under MSH-18 8859/1
        "dcm4che_omi_o23_ipc.hl7": ["AE"],  # UTF-8 bytes under MSH-18 8859/1
        "dcm4che_oru_r01_pdf_base64_ed.hl7": ["AA"],  # stored with its PDF; W: bare CR in base64 removed
        "dcm4che_oru_r01_radreport_sr.hl7": ["AE"],  # OBX-8 shifted one field right: OBX-11 empty, OBX-12 "F"
        "ms_orm_o01_ct_head_v26_BOM.hl7": ["AE"],  # CTD out of place, PV1-6.2 too long, ORC-15 invalid
    },
}


@pytest.mark.parametrize("domain", ["pharmacy", "imaging"])
def test_every_sample_gets_its_ack(hub: DomainHub, domain: str) -> None:
    """Each pharmacy and imaging sample gets the ACK EXPECTED lists, through the real listener."""
    port = hub.port if domain == "pharmacy" else hub.imaging_port
    files = samples(f"hl7v2/{domain}", "*.hl7")
    result = run_hub("send", "--port", str(port), *map(str, files))
    got: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        name, code = line.split("\t")[0], line.split("\t")[2]
        got.setdefault(Path(name.split("#")[0]).name, []).append(code)
    assert got == EXPECTED[domain]


def test_stored_samples_show_in_show_patient(hub: DomainHub) -> None:
    """The stored pharmacy sample is a medication with its NDC flagged; the PDF report keeps its document."""
    run_hub("send", "--port", str(hub.port), str(sample("hl7v2/pharmacy", "ms_rde_o25_v28.hl7")))
    pdf = sample("hl7v2/imaging", "dcm4che_oru_r01_pdf_base64_ed.hl7")
    run_hub("send", "--port", str(hub.imaging_port), str(pdf))
    (med,) = show(hub, "PATID1234")["pharmacy"]["medications"]
    assert med["drug"] == {
        "code": "0143963401",
        "system": "NDC",
        "name": "200 ML BAG : NICARDIPINE IN NACL (ISO-OS) 40 MG/200 ML IV PGBK",
        "recognized": False,
    }
    assert med["status"] == "active"
    (report,) = show(hub, "PID_1")["imaging"]["reports"]
    current = report["current"]
    assert (current["accession"], current["status"]) == ("AccessionNumber", "F")
    assert current["study_uid"] == "1.2.392.200036.9125.0.198811291108.7"
    (doc,) = current["documents"]
    assert doc["media_type"] == "application/pdf"
    with make_engine(hub.db_url).connect() as conn:
        data = conn.execute(text("SELECT data FROM imaging_documents")).scalar_one()
    assert data.startswith(b"%PDF") and len(data) == doc["size"]
    assert hashlib.sha256(data).hexdigest() == doc["sha256"]
