"""Consultation through the real channel: MLLP in, signed HTTP (and HTTPS) out, refusals, access list.

A subprocess hub on the test's database (SQLite, and PostgreSQL when reachable); every request
carries a real ES256 token, and one system also presents its TLS client certificate.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from commands import invoke
from consulting import (
    NAM,
    NAM_SYSTEM,
    ORGANIZATIONS,
    PRACTITIONERS,
    SENDER,
    Keys,
    consulting_partner,
    dispense,
    ec_keys,
    imaging_report,
    lab,
    token,
)
from cryptography.hazmat.primitives import serialization
from domain_hub import send
from fhir_check import notices, presented_text, resources
from pki import Leaf, issue, make_ca
from servers import ROOT, Server, ServerFactory, free_port

pytestmark = pytest.mark.slow
EVERYTHING = "Patient/1/$everything"
REFUSAL = "renseignements retenus : refus de l'usager / information withheld: patient refusal"


@dataclass
class ConsultHub:
    """The hub, its channels' ports, and the keys and certificates of the systems."""

    server: Server
    fhir: str  # plain base URL (loopback)
    fhirs: str  # TLS base URL
    keys: dict[str, Keys]
    pki: dict[str, Any]

    def get(self, path: str, tok: str | None, base: str = "", context: ssl.SSLContext | None = None) -> tuple[int, Any]:
        """GET below a base, signed with `tok`: (status, JSON)."""
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        request = urllib.request.Request(f"{base or self.fhir}/{path}", headers=headers)  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def cli(self, *args: str) -> Any:
        """`passerelle ARGS --config …` in this process."""
        return invoke(*args, "--config", str(self.server.config), env={"PASSERELLE_OPERATOR": "privacy-ana"})


@pytest.fixture
def hub(server_factory: ServerFactory, db_url: str, tmp_path: Path) -> ConsultHub:
    """Lab, pharmacy and imaging over MLLP; consultation over HTTP and HTTPS (client certificates)."""
    ca = make_ca("Passerelle consultation CA")
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(ca[1].public_bytes(serialization.Encoding.PEM))
    leaves = {n: issue(ca, n, n == "hub", tmp_path) for n in ("hub", "dme", "stranger")}
    keys = {n: ec_keys() for n in ("dme-lac", "dme-prive", "assureur")}
    ports = {n: free_port() for n in ("pharmacy", "imaging", "fhir", "fhirs")}
    loop = "interface=127.0.0.1"
    channels: list[dict[str, Any]] = [
        {"name": n, "protocol": "mllp", "listen": f"tcp:{ports[n]}:{loop}", "domain": n, "ruleset": "none"}
        for n in ("pharmacy", "imaging")
    ]
    channels.append(
        {"name": "fhir", "protocol": "fhir", "listen": f"tcp:{ports['fhir']}:{loop}", "domain": "consultation"}
    )
    tls = {"certificate": str(leaves["hub"][0]), "key": str(leaves["hub"][1]), "ca": str(ca_file)}
    channels.append(
        {
            "name": "fhirs",
            "protocol": "fhir",
            "listen": f"tcp:{ports['fhirs']}:{loop}",
            "domain": "consultation",
            "tls": tls,
        }
    )
    partners = [
        SENDER,
        consulting_partner("dme-lac", keys["dme-lac"], identities=[{"certificate_sha256": leaves["dme"][2]}]),
        consulting_partner("dme-prive", keys["dme-prive"], category="private-ramq"),
        consulting_partner("assureur", keys["assureur"], category="insurer", organization="assureur-x"),
    ]
    server = server_factory(
        db_url=db_url,
        partners=partners,
        organizations=ORGANIZATIONS,
        practitioners=PRACTITIONERS,
        extra_channels=channels,
    )
    return ConsultHub(
        server,
        f"http://127.0.0.1:{ports['fhir']}/fhir",
        f"https://127.0.0.1:{ports['fhirs']}/fhir",
        keys,
        {"ca": ca_file, **leaves, "ports": ports},
    )


def _fill(hub: ConsultHub) -> None:
    ports = hub.pki["ports"]
    acks = send(hub.server.port, lab("L1", "20260115", "F1"), lab("L2", "20260301", "F2", code="2823-3^Potassium^LN"))
    acks += send(ports["pharmacy"], dispense("R1", "20260116"))
    acks += send(ports["imaging"], imaging_report("I1", "20260117"))
    assert [a.code for a in acks] == ["AA"] * 4, [a.errors for a in acks]


def _tok(hub: ConsultHub, sub: str = "dr-bouchard", iss: str = "dme-lac", **claims: Any) -> str:
    return token(hub.keys[iss], iss, sub, **claims)


def test_sent_records_come_back_under_refusals_and_in_the_access_list(hub: ConsultHub) -> None:
    """MLLP in, $everything out with the same values; total and dated refusals; withdrawn; the access list."""
    _fill(hub)
    status, found = hub.get(f"Patient?identifier={NAM_SYSTEM}|{NAM}", _tok(hub))
    assert status == 200 and [p["id"] for p in resources(found, "Patient")] == ["1"]
    status, bundle = hub.get(EVERYTHING, _tok(hub))
    assert status == 200
    assert resources(bundle, "Patient")[0]["name"][0]["given"] == ["Hélène"]
    values = sorted(
        (o["code"]["coding"][0]["code"], o["valueQuantity"]["value"]) for o in resources(bundle, "Observation")
    )
    assert values == [("2345-7", 5.4), ("2823-3", 5.4)]
    assert resources(bundle, "Observation")[0]["note"][0]["text"] == "Résultat vérifié ; répéter à jeun"
    (drug,) = resources(bundle, "MedicationDispense")
    assert drug["medicationCodeableConcept"]["coding"][0]["code"] == "00056057"
    radiology = [r for r in resources(bundle, "DiagnosticReport") if r["id"].startswith("rad-")]
    assert presented_text(radiology[0]) == "Poumons clairs.\nAucune lésion décelée."

    assert hub.cli("refusals", "add", "--patient", NAM, "--all", "--means", "portal", "--system", "carnet-sante",
                   "--reason", "demande de l'usager").exit_code == 0  # fmt: skip
    _, bundle = hub.get(EVERYTHING, _tok(hub))
    assert [r["resourceType"] for r in resources(bundle)] == ["Patient", "OperationOutcome"]
    assert notices(bundle) == [REFUSAL]
    assert hub.cli("refusals", "withdraw", "1", "--reason", "retrait").exit_code == 0
    assert hub.cli("refusals", "add", "--patient", NAM, "--before", "2026-02-01", "--means", "written",
                   "--system", "dsq-admin", "--reason", "formulaire").exit_code == 0  # fmt: skip
    _, bundle = hub.get(EVERYTHING, _tok(hub))
    assert [o["effectiveDateTime"][:10] for o in resources(bundle, "Observation")] == ["2026-03-01"]
    assert resources(bundle, "MedicationDispense") == []
    assert hub.cli("refusals", "withdraw", "2", "--reason", "retrait").exit_code == 0
    _, bundle = hub.get(EVERYTHING, _tok(hub))
    assert len(resources(bundle, "Observation")) == 2 and notices(bundle) == []

    listed = json.loads(hub.cli("access-list", NAM, "--json").stdout)
    consultations = [a for a in listed if a["practitioner"]]
    assert [a["consulted"] for a in consultations] == ["Patient search"] + ["Patient/$everything"] * 4
    assert {a["practitioner"]["name"] for a in consultations} == {"Marie Bouchard"}
    assert [a["withheld"] for a in consultations] == [False, False, True, True, False]
    text = hub.cli("access-list", NAM).stdout
    assert "Marie Bouchard (médecin, licence 20001)  Clinique médicale du Lac  via DMÉ dme-lac" in text
    assert hub.cli("journal", "verify").exit_code == 0


def test_refused_requests_are_security_events(hub: ConsultHub) -> None:
    """Own record, replay, expiry, unknown practitioner, uncertified system, insurer, HRESCH: refused, journaled."""
    _fill(hub)
    now = int(time.time())
    reused = _tok(hub)
    assert hub.get(EVERYTHING, reused)[0] == 200
    cases = {
        "own-record": (_tok(hub, "dr-lavoie"), 403),
        "replayed-jti": (reused, 401),
        "token-expired": (_tok(hub, iat=now - 500, exp=now - 300), 401),
        "practitioner-unknown": (_tok(hub, "dr-nobody"), 403),
        "uncertified": (_tok(hub, iss="dme-prive"), 403),
        "cut": (_tok(hub, iss="assureur"), 403),
        "purpose-not-allowed": (_tok(hub, purpose_of_use="HRESCH"), 403),
    }
    for reason, (tok, expected) in cases.items():
        status, body = hub.get(EVERYTHING, tok)
        assert (status, body["resourceType"]) == (expected, "OperationOutcome"), reason
    report = json.loads(hub.cli("surveillance", "report", "--json").stdout)
    reasons: dict[str, int] = {}
    for group in report:
        for reason, n in group["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + n
    assert reasons == dict.fromkeys(cases, 1)
    listed = json.loads(hub.cli("access-list", NAM, "--json").stdout)
    assert len([a for a in listed if a["practitioner"]]) == 1  # refused requests released nothing
    assert hub.cli("journal", "verify").exit_code == 0


def test_over_tls_the_certificate_must_be_the_systems(hub: ConsultHub) -> None:
    """HTTPS with the system's certificate and token: 200 (docs/examples/consult.py); another certificate: 403."""
    _fill(hub)
    key_file = hub.server.config.parent / "dme.pem"
    key_file.write_text(hub.keys["dme-lac"].private)
    cert: Leaf = hub.pki["dme"]
    script = [
        sys.executable,
        str(ROOT / "docs/examples/consult.py"),
        "get",
        "--base",
        hub.fhirs,
        "--key",
        str(key_file),
    ]
    script += ["--iss", "dme-lac", "--sub", "dr-bouchard", "--ca", str(hub.pki["ca"])]
    script += ["--cert", str(cert[0]), "--client-key", str(cert[1]), EVERYTHING]
    done = subprocess.run(script, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "200"
    assert len(resources(json.loads(done.stdout), "Observation")) == 2
    stranger: Leaf = hub.pki["stranger"]
    context = ssl.create_default_context(cafile=str(hub.pki["ca"]))
    context.load_cert_chain(stranger[0], stranger[1])
    status, body = hub.get(EVERYTHING, _tok(hub), base=hub.fhirs, context=context)
    assert (status, body["resourceType"]) == (403, "OperationOutcome")
    status, capability = hub.get("metadata", None, base=hub.fhirs, context=context)
    assert (status, capability["resourceType"]) == (200, "CapabilityStatement")
