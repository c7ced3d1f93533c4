"""The register of refusals, applied before any release: total, dated, withdrawn; intake unchanged."""

from __future__ import annotations

from datetime import date

import pytest
from consult_checks import last_entry
from consult_world import World
from consulting import NAM, dispense, imaging_report, lab
from fhir_check import notices, resources
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hub.governance.journal import verify
from hub.governance.specs import RegistryError
from hub.registers.refusals import add, list_refusals, withdraw

REFUSAL = "renseignements retenus : refus de l'usager / information withheld: patient refusal"


def _fill(world: World) -> None:
    for raw, channel in (
        (lab("L1", "20260115", "F1"), "lab"),
        (lab("L2", "20260301", "F2", code="2823-3^Potassium^LN", value="4.1"), "lab"),
        (dispense("R1", "20260116"), "pharmacy"),
        (imaging_report("I1", "20260117"), "imaging"),
    ):
        reply = world.send(raw, channel)
        assert reply is not None and reply.code == "AA"


def _everything(world: World) -> dict[str, object]:
    status, bundle = world.ask("/Patient/1/$everything", world.token())
    assert status == 200
    return dict(bundle)


def _refuse(world: World, before: date | None = None) -> int:
    return add(world.engine, NAM, before=before, means="written", system="dsq-admin", reason="form 12", operator="ana")


def test_a_total_refusal_withholds_everything_clinical(world: World) -> None:
    """Patient and one notice, nothing else; the entry says something was withheld, with no value."""
    _fill(world)
    _refuse(world)
    bundle = _everything(world)
    assert [r["resourceType"] for r in resources(bundle)] == ["Patient", "OperationOutcome"]
    assert notices(bundle) == [REFUSAL]
    outcome = resources(bundle, "OperationOutcome")[0]["issue"][0]
    assert (outcome["severity"], outcome["code"]) == ("information", "suppressed")
    status, _decision, detail, patient = last_entry(world.engine)
    assert (status, detail["withheld"], detail["released"], patient) == ("consult.withheld", True, 1, 1)
    assert "5.4" not in str(detail) and "Glucose" not in str(detail)


def test_a_dated_refusal_splits_at_its_day_and_withdrawing_releases_all(world: World) -> None:
    """Refused before 2026-02-01: the March result only; withdrawn: everything again, no notice."""
    _fill(world)
    number = _refuse(world, date(2026, 2, 1))
    bundle = _everything(world)
    observations = resources(bundle, "Observation")
    assert [o["effectiveDateTime"][:10] for o in observations] == ["2026-03-01"]
    assert resources(bundle, "MedicationDispense") == []
    assert [r["id"][:4] for r in resources(bundle, "DiagnosticReport")] == ["lab-"]
    assert notices(bundle) == [REFUSAL]
    withdraw(world.engine, number, "ana", "patient changed their mind")
    bundle = _everything(world)
    assert len(resources(bundle, "Observation")) == 2
    assert len(resources(bundle, "DiagnosticReport")) == 3
    assert notices(bundle) == []
    assert last_entry(world.engine)[0] == "consult"


def test_a_withheld_resource_read_by_id_is_not_found(world: World) -> None:
    """Under a total refusal a direct read of a result is a 404, like an absent one."""
    _fill(world)
    _, bundle = world.ask("/Observation", world.token(), ("patient", "1"))
    obs_id = resources(bundle, "Observation")[0]["id"]
    _refuse(world)
    status, _body = world.ask(f"/Observation/{obs_id}", world.token())
    assert status == 404


def test_intake_is_unchanged_under_a_refusal(world: World) -> None:
    """A result sent after a total refusal is stored (AA) and released once the refusal is withdrawn."""
    number = _refuse_after_first(world)
    reply = world.send(lab("L9", "20260401", "F9"), "lab")
    assert reply is not None and reply.code == "AA"
    withdraw(world.engine, number, "ana", "withdrawn")
    assert len(resources(_everything(world), "Observation")) == 2


def _refuse_after_first(world: World) -> int:
    reply = world.send(lab("L1", "20260115", "F1"), "lab")
    assert reply is not None and reply.code == "AA"
    return _refuse(world)


def test_the_register_keeps_every_refusal_and_refuses_deletes(world: World) -> None:
    """Numbers, dates, means, scope and system are kept; withdrawn is final; the rows can't be deleted."""
    _refuse_after_first(world)
    second = _refuse(world, date(2026, 1, 1))
    withdraw(world.engine, second, "ana", "done")
    with pytest.raises(RegistryError, match="already withdrawn"):
        withdraw(world.engine, second, "ana", "again")
    rows = list_refusals(world.engine, NAM)
    assert [(r["number"], r["scope"], r["before"], r["means"], r["system"], r["in_force"]) for r in rows] == [
        (1, "all", None, "written", "dsq-admin", True),
        (second, "before", "2026-01-01", "written", "dsq-admin", False),
    ]
    with pytest.raises(DBAPIError), world.engine.begin() as conn:
        conn.execute(text("DELETE FROM refusals"))
    with pytest.raises(RegistryError, match="NAM"):
        add(world.engine, "XXXX00000000", before=None, means="phone", system="s", reason="r", operator="ana")
    assert verify(world.engine)[0] is None
