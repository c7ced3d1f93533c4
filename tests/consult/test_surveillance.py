"""Who may consult, and every refusal a journaled security event: 401 or 403 with an OperationOutcome."""

from __future__ import annotations

import time

import pytest
from consult_checks import last_entry
from consult_world import World, build_world
from consulting import NAM, NAM_SYSTEM, Keys, ec_keys, lab, token
from fhir_check import notices, resources, valid
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hub.consult.audit import accesses, surveillance
from hub.governance.journal import verify

SEARCH = ("identifier", f"{NAM_SYSTEM}|{NAM}")


def _filled(world: World) -> World:
    reply = world.send(lab("L1", "20260115", "F1"), "lab")
    assert reply is not None and reply.code == "AA"
    return world


def _refused(world: World, tok: str | None, status: int, decision: str, path: str = "/Patient") -> None:
    got, body = world.ask(path, tok, SEARCH) if path == "/Patient" else world.ask(path, tok)
    assert got == status, body
    assert valid(body)["resourceType"] == "OperationOutcome"
    entry = last_entry(world.engine)
    assert entry[:2] == ("consult.denied", decision), entry


def test_each_refused_request_is_a_security_event(world: World, other_keys: Keys) -> None:
    """Own record, replay, expiry, lifetime, unknown or suspended or elsewhere, uncertified, insurer, purpose."""
    _filled(world)
    now = int(time.time())
    _refused(world, world.token(sub="dr-lavoie"), 403, "own-record")
    reused = world.token()
    assert world.ask("/Patient", reused, SEARCH)[0] == 200
    _refused(world, reused, 401, "replayed-jti")
    _refused(world, world.token(iat=now - 400, exp=now - 200), 401, "token-expired")
    _refused(world, world.token(exp=now + 600), 401, "token-lifetime")
    _refused(world, world.token(sub="dr-nobody"), 403, "practitioner-unknown")
    _refused(world, world.token(sub="dr-absent"), 403, "practitioner-suspended")
    _refused(world, world.token(sub="dr-roy"), 403, "practitioner-elsewhere")
    _refused(world, token(other_keys, "dme-prive", "dr-bouchard"), 403, "uncertified")
    _refused(world, world.token(purpose="HRESCH"), 403, "purpose-not-allowed")
    _refused(world, token(other_keys, "dme-lac", "dr-bouchard"), 401, "bad-signature")
    _refused(world, None, 401, "no-token")
    _refused(world, world.token(iss="nobody"), 401, "unknown-system")
    _refused(world, world.token(jti=None), 401, "bad-claims")
    assert verify(world.engine)[0] is None


def test_an_insurer_is_cut(engine: Engine, clinic_keys: Keys, other_keys: Keys) -> None:
    """An insurer's consulting system is cut by the link policy, whatever its key."""
    insurer = ec_keys()
    world = _filled(build_world(engine, clinic_keys, other_keys, insurer=insurer))
    _refused(world, token(insurer, "assureur", "dr-bouchard"), 403, "cut")


def test_emergency_needs_the_channel_and_a_reason(engine: Engine, clinic_keys: Keys, other_keys: Keys) -> None:
    """ETREAT: refused where the channel does not allow it; elsewhere released and a security event."""
    closed = _filled(build_world(engine, clinic_keys, other_keys, emergency=False))
    _refused(closed, closed.token(purpose="ETREAT", reason="arrêt cardiaque"), 403, "purpose-not-allowed")
    closed.consult.channels["fhir"] = type(closed.consult.channels["fhir"])("fhir", "http://h/fhir", emergency=True)
    _refused(closed, closed.token(purpose="ETREAT"), 403, "emergency-no-reason")
    status, _ = closed.ask("/Patient", closed.token(purpose="ETREAT", reason="arrêt cardiaque"), SEARCH)
    assert status == 200
    status_, _decision, detail, _patient = last_entry(closed.engine)
    assert (status_, detail["emergency_reason"]) == ("consult.emergency", "arrêt cardiaque")
    with Session(engine) as s:
        report = surveillance(s)
    by_practitioner = {g["practitioner"]: g["reasons"] for g in report}
    assert by_practitioner["dr-bouchard"] == {"emergency": 1, "emergency-no-reason": 1, "purpose-not-allowed": 1}


def test_the_access_list_names_each_practitioner(world: World) -> None:
    """Each allowed consultation is in the patient's list with the practitioner and organization; refusals aren't."""
    _filled(world)
    world.ask("/Patient", world.token(), SEARCH)
    world.ask("/Patient/1/$everything", world.token())
    world.ask("/Patient", world.token(sub="dr-roy"), SEARCH)
    with Session(world.engine) as s:
        listed = accesses(s, [1])
    assert [(a["practitioner"]["name"], a["organization"]["name"], a["consulted"]) for a in listed] == [
        ("Marie Bouchard", "Clinique médicale du Lac", "Patient search"),
        ("Marie Bouchard", "Clinique médicale du Lac", "Patient/$everything"),
    ]
    assert listed[0]["system"] == {"id": "dme-lac", "name": "DMÉ dme-lac"}


def test_privacy_systems_read_the_access_list_as_audit_events(
    engine: Engine, clinic_keys: Keys, other_keys: Keys
) -> None:
    """AuditEvent?patient= for a privacy system with PATRQT; a consulting system may not read it."""
    portal = ec_keys()
    world = _filled(build_world(engine, clinic_keys, other_keys, privacy=portal))
    world.ask("/Patient/1/$everything", world.token())
    status, bundle = world.ask("/AuditEvent", token(portal, "portail", "agent-ramq", "PATRQT"), ("patient", "1"))
    assert status == 200, bundle
    (event,) = resources(bundle, "AuditEvent")
    assert event["agent"][0]["who"]["display"] == "Marie Bouchard"
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "TREAT"
    status, _ = world.ask("/AuditEvent", world.token(), ("patient", "1"))
    assert status == 403
    assert last_entry(world.engine)[1] == "domain-not-allowed"
    status, _ = world.ask("/AuditEvent", token(portal, "portail", "agent-ramq"), ("patient", "1"))
    assert (status, last_entry(world.engine)[1]) == (403, "purpose-not-allowed")


@pytest.mark.parametrize("excluded", [frozenset({"imaging"})])
def test_excluded_categories_and_held_identities_are_said(
    engine: Engine, clinic_keys: Keys, other_keys: Keys, excluded: frozenset[str]
) -> None:
    """A domain with exclusions and a record held for this patient's identity each add a fixed notice."""
    world = _filled(build_world(engine, clinic_keys, other_keys, excluded=excluded))
    held = lab("L2", "20260116", "F2").replace("123^^^CHUM^MR", "999^^^CHUM^MR").replace("Lavoie^Hélène", "Roy^Jean")
    reply = world.send(held, "lab")
    assert reply is not None and reply.code == "AA"
    _, bundle = world.ask("/Patient/1/$everything", world.token())
    assert notices(bundle) == [
        "certaines catégories ne sont pas communiquées / some categories are not communicated",
        "des renseignements attendent la confirmation de l'identité de l'usager / "
        "some information awaits confirmation of the patient's identity",
    ]
