"""The common registers through the real listener: scoped, versioned patients, holds, merges, DICOM, practitioners."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from commands import invoke
from domain_hub import send, show, show_or_none
from servers import Server, ServerFactory, free_port
from shared_samples import sample

pytestmark = pytest.mark.slow

ORGANIZATIONS = [
    {"id": "hmr", "name": "Hôpital Maisonneuve-Rosemont", "type": "hospital", "codes": {"facility": ["HMR"]}},
    {"id": "pharmacie-jc", "name": "Pharmacie Jean-Coutu 123", "type": "community-pharmacy"},
]


def _partner(pid: str, app: str, facility: str, organization: str, domains: list[str]) -> dict[str, Any]:
    return {
        "id": pid,
        "name": pid,
        "organization": organization,
        "authorities": [facility],
        "category": "government",
        "domains": domains,
        "product": {"name": "LabSys", "version": "4.2"},
        "identities": [{"sending_application": app, "sending_facility": facility}],
    }


PARTNERS = [
    _partner("sil-chum", "LIS", "CHUM", "chum", ["lab", "imaging", "registry"]),
    _partner("sil-hmr", "LIS", "HMR", "hmr", ["lab", "imaging"]),
    _partner("pharma-jc", "PHX", "JC123", "pharmacie-jc", ["lab", "pharmacy"]),
]
PRACTITIONERS = [
    {
        "id": "dr-tremblay",
        "licence": "12345",
        "order": "CMQ",
        "family": "Tremblay",
        "given": "Luc",
        "profession": "médecin",
        "organizations": ["chum"],
    }
]
NAM = "LAVH54623112"  # Lavoie, Hélène, born 1954-12-31, F
OTHER_NAM = "GAGJ60510111"  # Gagnon, Josée, born 1960-01-01, F (month + 50)


class RegisterHub(Server):
    """The lab channel (main port), an imaging and a registry channel."""

    imaging_port: int
    registry_port: int


@pytest.fixture
def hub(server_factory: ServerFactory, db_url: str) -> RegisterHub:
    """A hub with two hospitals (CHUM, HMR), a community pharmacy, and one practitioner."""
    imaging_port, registry_port = free_port(), free_port()
    channels = [
        {"name": n, "protocol": "mllp", "listen": f"tcp:{p}:interface=127.0.0.1", "domain": n, "ruleset": "none"}
        for n, p in (("imaging", imaging_port), ("registry", registry_port))
    ]
    server = server_factory(
        db_url=db_url,
        partners=PARTNERS,
        organizations=ORGANIZATIONS,
        practitioners=PRACTITIONERS,
        extra_channels=channels,
    )
    hub = RegisterHub(**vars(server))
    hub.imaging_port, hub.registry_port = imaging_port, registry_port
    return hub


def oru(cid: str, pid3: str, facility: str = "CHUM", name: str = "Lavoie^Hélène", **kw: str) -> str:
    """A v2.5.1 ORU^R01 from LIS/`facility` with one OBR (filler `cid`) and one OBX."""
    born, provider, app = kw.get("born", "19541231"), kw.get("provider", ""), kw.get("app", "LIS")
    return (
        f"MSH|^~\\&|{app}|{facility}|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{cid}|P|2.5.1|||||CAN|UNICODE UTF-8\r"
        f"PID|1||{pid3}||{name}||{born}|F|||1 rue Sherbrooke^^Montréal^QC^H2X 1X1\r"
        f"OBR|1|P{cid}|{cid}^LAB|2345-7^Glucose^LN|||20260101080000|||||||||{provider}||||||20260101110000|||F\r"
        "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-6.1|N|||F\r"
    )


def fillers(record: dict[str, Any]) -> list[str]:
    """The filler numbers of a patient's lab orders."""
    return sorted(o["current"]["filler_number"] for o in record["lab"]["orders"])


def cli(hub: Server, *args: str) -> Any:
    """`passerelle ARGS --config` for the hub; the result."""
    return invoke(*args, "--config", str(hub.config), env={"PASSERELLE_OPERATOR": "agent-7"})


def journal(hub: Server) -> list[dict[str, Any]]:
    """The journal's entries, read from the database."""
    from sqlalchemy import select

    from hub.store.db import make_engine
    from hub.store.models import JournalEntry

    engine = make_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(JournalEntry.__table__).order_by(JournalEntry.id))]
    finally:
        engine.dispose()


def only_ack(port: int, message: str) -> Any:
    """Send one message; its ACK."""
    (ack,) = send(port, message)
    return ack


def test_same_mrn_without_authority_from_two_hospitals_is_two_patients(hub: RegisterHub) -> None:
    """An empty PID-3.4 is the sender's first authority: CHUM's 555 and HMR's 555 are not one person."""
    assert only_ack(hub.port, oru("A1", "555")).code == "AA"
    assert only_ack(hub.port, oru("A2", "555", facility="HMR", name="Roy^Marc", born="19800101")).code == "AA"
    chum, hmr = show(hub, "CHUM:555"), show(hub, "HMR:555")
    assert chum["patient"]["id"] != hmr["patient"]["id"]
    assert [(i["authority"], i["value"]) for i in chum["patient"]["identifiers"]] == [("CHUM", "555")]
    assert (fillers(chum), fillers(hmr)) == (["A1"], ["A2"])


def test_same_nam_from_two_hospitals_is_one_patient(hub: RegisterHub) -> None:
    """The NAM is the provincial key: the HMR's MRN is added to the CHUM's patient."""
    assert only_ack(hub.port, oru("N1", f"123^^^CHUM^MR~{NAM}^^^RAMQ^NAM")).code == "AA"
    assert only_ack(hub.port, oru("N2", f"777^^^HMR^MR~{NAM}^^^RAMQ^NAM", facility="HMR")).code == "AA"
    record = show(hub, NAM)
    assert show(hub, "HMR:777")["patient"]["id"] == record["patient"]["id"]
    held = {(i["authority"], i["value"]) for i in record["patient"]["identifiers"]}
    assert held == {("CHUM", "123"), ("RAMQ", NAM), ("HMR", "777")}
    assert fillers(record) == ["N1", "N2"]


def test_identifier_under_another_partners_authority_is_refused(hub: RegisterHub) -> None:
    """HMR can't file under CHUM's MRN: AE 103 at the repetition's CX-4, and nothing stored."""
    assert only_ack(hub.port, oru("C1", "123^^^CHUM^MR", name="Lavoie^Hélène")).code == "AA"
    ack = only_ack(hub.port, oru("C2", f"{NAM}^^^RAMQ^NAM~123^^^CHUM^MR", facility="HMR"))
    assert ack.code == "AE"
    (err,) = ack.errors
    fields = err.split("|")
    assert (fields[2], fields[3].split("^")[0], fields[4]) == ("PID^1^3^2^4", "103", "E")
    assert fillers(show(hub, "CHUM:123")) == ["C1"]
    assert show_or_none(hub, NAM) == {}


def test_nam_mrn_conflict_is_held_then_resolved_by_the_cli(hub: RegisterHub) -> None:
    """A NAM and an MRN of two patients: AA with a W at PID-3, records held, filed by a person."""
    assert only_ack(hub.port, oru("H1", f"1^^^CHUM^MR~{NAM}^^^RAMQ^NAM")).code == "AA"
    gagnon = f"2^^^CHUM^MR~{OTHER_NAM}^^^RAMQ^NAM"
    assert only_ack(hub.port, oru("H2", gagnon, name="Gagnon^Josée", born="19600101")).code == "AA"
    ack = only_ack(hub.port, oru("H3", f"1^^^CHUM^MR~{OTHER_NAM}^^^RAMQ^NAM", name="Gagnon^Josée", born="19600101"))
    assert ack.code == "AA", ack.errors
    assert [e.split("|")[2:5] for e in ack.errors] == [["PID^1^3", "204^Unknown key identifier^HL70357", "W"]], (
        ack.errors
    )
    lavoie, gagnon_record = show(hub, "CHUM:1"), show(hub, "CHUM:2")
    assert (fillers(lavoie), fillers(gagnon_record)) == (["H1"], ["H2"])
    listed = cli(hub, "patients", "unresolved", "--json")
    (hold,) = json.loads(listed.stdout)
    assert journal(hub)[-1]["status"] == "access.unresolved" and journal(hub)[-1]["operator"] == "agent-7"
    assert hold["reason"] == "nam-conflict"
    assert sorted(hold["detail"]["candidates"]) == sorted([lavoie["patient"]["id"], gagnon_record["patient"]["id"]])
    accessed = [e["patient_id"] for e in journal(hub)[-2:] if e["status"] == "access.unresolved"]
    assert accessed == sorted(hold["detail"]["candidates"])  # in each candidate's access list
    missing = cli(hub, "patients", "resolve", str(hold["id"]), "--patient", str(lavoie["patient"]["id"]))
    assert missing.exit_code != 0 and len(missing.stderr.strip().splitlines()) == 1
    done = cli(hub, "patients", "resolve", str(hold["id"]), "--patient", str(lavoie["patient"]["id"]), "--reason", "x")
    assert done.exit_code == 0, done.stderr
    assert fillers(show(hub, "CHUM:1")) == ["H1", "H3"]
    assert json.loads(cli(hub, "patients", "unresolved", "--json").stdout) == []
    again = cli(hub, "patients", "resolve", str(hold["id"]), "--patient", "1", "--reason", "x")
    assert again.exit_code != 0 and "already resolved" in again.stderr
    assert any(e["status"] == "patient.resolve" and e["operator"] == "agent-7" for e in journal(hub))


def test_nam_check_beyond_tolerance_and_other_demographics_are_held(hub: RegisterHub) -> None:
    """A NAM contradicting name and birth date, or a known NAM with a new MRN and other demographics: held."""
    assert only_ack(hub.port, oru("T1", f"{NAM}^^^RAMQ^NAM", name="Roy^Marc", born="19800101")).code == "AA"
    assert only_ack(hub.port, oru("T2", f"{NAM}^^^RAMQ^NAM")).code == "AA"  # agrees: filed
    assert only_ack(hub.port, oru("T3", f"9^^^CHUM^MR~{NAM}^^^RAMQ^NAM", born="19541130")).code == "AA"
    reasons = sorted(h["reason"] for h in json.loads(cli(hub, "patients", "unresolved", "--json").stdout))
    assert reasons == ["nam-check", "nam-demographics"]
    assert fillers(show(hub, NAM)) == ["T2"]


def test_a_name_change_is_a_second_demographic_version(hub: RegisterHub) -> None:
    """Nothing is overwritten: the current version and the history."""
    assert only_ack(hub.port, oru("V1", "42^^^CHUM^MR", name="Lavoie^Hélène")).code == "AA"
    assert only_ack(hub.port, oru("V2", "42^^^CHUM^MR", name="Tremblay^Hélène")).code == "AA"
    patient = show(hub, "CHUM:42")["patient"]
    assert (patient["family"], patient["version"]) == ("Tremblay", 2)
    assert [(v["version"], v["family"]) for v in patient["history"]] == [(2, "Tremblay"), (1, "Lavoie")]
    assert patient["history"][1]["address"] == "1 rue Sherbrooke, Montréal, QC, H2X 1X1"
    text = cli(hub, "show", "patient", "CHUM:42")
    assert "v1 Lavoie" in text.stdout and "v2 Tremblay" in text.stdout
    shown = [e for e in journal(hub) if e["status"] == "access.patient"]  # every view, ids only
    assert shown[-1]["operator"] == "agent-7" and shown[-1]["reason"].startswith(f"patient {patient['id']}:")
    assert not any("Tremblay" in e["reason"] or "42" in e["reason"].split(":")[0] for e in shown)


def a40(cid: str, survivor: str, merged: str) -> str:
    """ADT^A40 from LIS/CHUM: `merged` (MRG-1) into `survivor` (PID-3)."""
    return (
        f"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260102120000||ADT^A40^ADT_A39|{cid}|P|2.5.1|||||CAN|UNICODE UTF-8\r"
        "EVN|A40|20260102120000\r"
        f"PID|1||{survivor}||Lavoie^Hélène||19541231|F\r"
        f"MRG|{merged}\r"
    )


def test_a40_merge_then_unmerge(hub: RegisterHub) -> None:
    """An A40 re-links MRN 11 to patient 10, whose record then holds both; an unmerge splits them again."""
    assert only_ack(hub.port, oru("M1", "10^^^CHUM^MR")).code == "AA"
    assert only_ack(hub.port, oru("M2", "11^^^CHUM^MR")).code == "AA"
    ten, eleven = show(hub, "CHUM:10")["patient"]["id"], show(hub, "CHUM:11")["patient"]["id"]
    unknown = only_ack(hub.registry_port, a40("R0", "10^^^CHUM^MR", "99^^^CHUM^MR"))
    assert unknown.code == "AE" and unknown.errors[0].split("|")[2] == "MRG^1^1"
    assert only_ack(hub.registry_port, a40("R1", "10^^^CHUM^MR", "11^^^CHUM^MR")).code == "AA"
    merged = show(hub, "CHUM:11")
    assert merged["patient"]["id"] == ten and merged["patient"]["merged"] == [eleven]
    assert fillers(merged) == ["M1", "M2"]
    assert only_ack(hub.port, oru("M3", "11^^^CHUM^MR")).code == "AA"  # filed under the survivor
    assert fillers(show(hub, "CHUM:10")) == ["M1", "M2", "M3"]
    refused = only_ack(hub.registry_port, a40("R2", "10^^^CHUM^MR", "11^^^CHUM^MR"))
    assert refused.code == "AE"
    split = cli(hub, "patients", "unmerge", "--merged", str(eleven), "--reason", "two people")
    assert split.exit_code == 0, split.stderr
    assert show(hub, "CHUM:11")["patient"]["id"] == eleven and fillers(show(hub, "CHUM:11")) == ["M2"]
    assert fillers(show(hub, "CHUM:10")) == ["M1", "M3"]
    by_hand = cli(hub, "patients", "merge", "--survivor", str(eleven), "--merged", str(ten), "--reason", "same")
    assert by_hand.exit_code == 0, by_hand.stderr
    assert fillers(show(hub, "CHUM:10")) == ["M1", "M2", "M3"]
    bad = cli(hub, "patients", "merge", "--survivor", str(eleven), "--merged", str(eleven), "--reason", "x")
    assert bad.exit_code != 0 and len(bad.stderr.strip().splitlines()) == 1


def test_registry_messages_need_the_registry_domain(hub: RegisterHub) -> None:
    """HMR's partner doesn't hold `registry`: its A40 is refused (AR)."""
    message = a40("R9", "5^^^HMR^MR", "6^^^HMR^MR").replace("LIS|CHUM", "LIS|HMR")
    assert only_ack(hub.registry_port, message).code == "AR"


def test_an_organization_that_may_not_feed_the_domain_is_refused(hub: RegisterHub) -> None:
    """A community pharmacy's partner declaring `lab` still can't send lab results: AR 207."""
    ack = only_ack(hub.port, oru("P1", "1^^^JC123^MR", facility="JC123", app="PHX"))
    assert ack.code == "AR"
    assert [e["decision"] for e in journal(hub) if e["control_id"] == "P1"] == ["domain-not-allowed"]


def test_ordering_provider_with_a_known_licence_is_linked(hub: RegisterHub) -> None:
    """OBR-16 naming licence 12345 of the CMQ shows the register's practitioner; the value as sent is kept."""
    provider = "12345^Tremblay^Luc^^^^^^CMQ"
    assert only_ack(hub.port, oru("L1", "7^^^CHUM^MR", provider=provider)).code == "AA"
    assert only_ack(hub.port, oru("L2", "7^^^CHUM^MR", provider="99999^Inconnu^Jean^^^^^^CMQ")).code == "AA"
    orders = {o["current"]["filler_number"]: o["current"] for o in show(hub, "CHUM:7")["lab"]["orders"]}
    (link,) = orders["L1"]["practitioners"]
    assert (link["field"], link["sent"]) == ("OBR-16", provider)
    assert link["practitioner"]["id"] == "dr-tremblay" and link["practitioner"]["state"] == "active"
    assert orders["L1"]["ordering_provider"] == "Tremblay, Luc (12345)"
    assert orders["L1"]["organization"] == {"id": "chum", "name": "Centre hospitalier de l'Université de Montréal"} | {
        "type": "hospital"
    }
    assert orders["L1"]["performing_organization"]["id"] == "chum"  # MSH-4 CHUM: a facility code of the CHUM
    (unknown,) = orders["L2"]["practitioners"]
    assert unknown["practitioner"] is None


def imaging_report(cid: str, pid3: str, accession: str, facility: str = "CHUM") -> str:
    """A radiology ORU^R01 with OBR-18 accession number."""
    obr = ["OBR", "1", "", f"{cid}^RIS", "24627-2^TDM^LN", "", "", "20260103080000"] + [""] * 10 + [accession]
    return (
        f"MSH|^~\\&|LIS|{facility}|DSQ|QC|20260103120000||ORU^R01^ORU_R01|{cid}|P|2.5.1|||||CAN|UNICODE UTF-8\r"
        f"PID|1||{pid3}||Lavoie^Hélène||19541231|F\r" + "|".join([*obr, *[""] * 6, "F"]) + "\r"
        "OBX|1|FT|18782-3^Impression^LN||Poumons clairs.||||||F\r"
    )


def dicom_file(tmp_path: Path, name: str, accession: str, patient_id: str) -> Path:
    """A copy of a shared CT with its own SOP Instance UID, this accession number and Patient ID."""
    import pydicom
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(sample("dicom", "CT_small.dcm"))
    ds.AccessionNumber, ds.PatientID, ds.SOPInstanceUID = accession, patient_id, generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp_path / name
    ds.save_as(path)
    return path


def test_dicom_accession_numbers_are_scoped_to_their_organization(hub: RegisterHub, tmp_path: Path) -> None:
    """HMR's study with CHUM's accession number is not linked; a CHUM study naming another patient is held."""
    assert only_ack(hub.imaging_port, imaging_report("I1", "31^^^CHUM^MR", "ACC-1")).code == "AA"
    foreign = dicom_file(tmp_path, "hmr.dcm", "ACC-1", "31")
    result = cli(hub, "dicom", "import", "--organization", "hmr", str(foreign))
    assert result.exit_code == 0 and "no HL7 order or report linked yet" in result.stdout
    assert show(hub, "CHUM:31")["imaging"]["studies"] == []
    assert show(hub, "hmr:31")["imaging"]["studies"][0]["accession"] == "ACC-1"
    own = dicom_file(tmp_path, "chum.dcm", "ACC-1", "31")
    linked = cli(hub, "dicom", "import", "--organization", "chum", str(own))
    assert "linked to 1 order(s)/report(s)" in linked.stdout, linked.stdout
    assert len(show(hub, "CHUM:31")["imaging"]["studies"]) == 1
    other = dicom_file(tmp_path, "other.dcm", "ACC-1", "99")
    held = cli(hub, "dicom", "import", "--organization", "chum", str(other))
    assert "held unresolved" in held.stdout, held.stdout
    (hold,) = json.loads(cli(hub, "patients", "unresolved", "--json").stdout)
    assert hold["reason"] == "dicom-patient" and hold["detail"]["dicom"]["patient_id"] == "99"
    assert hold["detail"]["order_identifiers"] == [{"authority": "CHUM", "value": "31"}]
    assert show(hub, "CHUM:31")["imaging"]["studies"][0]["instance_count"] == 1
