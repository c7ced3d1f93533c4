"""The stateful status-transition rule: given the stored statuses, at its rule set's severity."""

from __future__ import annotations

from fakes import ack_of
from lab_engine import count, lab_directory, oru, send
from sqlalchemy import Engine, select

from certification.ruleset import RuleRef, RuleSet, load_ruleset
from certification.transitions import LAB, StatusTransitionRule, illegal_transition
from hub.engine.intake import InlineIntake
from hub.engine.pipeline import Pipeline
from hub.engine.policy import ChannelPolicy
from hub.engine.writer import SQLStore
from hub.interfaces import Outcome
from hub.store.models import JournalEntry, LabOrder
from mappings import LabOrder as OrderRecord
from mappings import Mapped, Patient

NAM = "LAVH54623112^^^RAMQ^NAM"


def _with_severity(severity: str) -> RuleSet:
    base = load_ruleset("tgv-lab-2026.1")
    rules = tuple(RuleRef(id=r.id, severity=severity) if r.id == LAB else r for r in base.rules)
    return base.model_copy(update={"rules": rules})


def _intake(engine: Engine, ruleset: RuleSet) -> InlineIntake:
    policy = ChannelPolicy("lab", "lab", ruleset=ruleset)
    return InlineIntake(Pipeline(channels={"lab": policy}, directory=lab_directory()), SQLStore(engine))


def _message(control_id: str, status: str) -> bytes:
    return oru(control_id, status).replace("123^^^CHUM^MR~" + NAM, NAM).encode()


def test_severity_w_accepts_a_status_going_back_with_a_warning(engine: Engine) -> None:
    """`severity: W`: final then preliminary is stored as the next version, AA with W ERRs (not AE)."""
    intake = _intake(engine, _with_severity("W"))
    first = send(intake, _message("W1", "F"))
    assert first is not None and first.code is Outcome.AA
    back = send(intake, _message("W2", "P"))
    assert back is not None and back.outcome is Outcome.AA
    ack = ack_of(back)
    warned = [e for e in ack.errors if "|103^" in e]
    assert [e.split("|")[2] for e in warned] == ["OBR^1^25", "OBX^1^11", "OBX^2^11"]
    assert all(e.split("|")[4] == "W" for e in warned)
    assert count(engine, LabOrder) == 2
    with engine.connect() as conn:
        entry = conn.execute(select(JournalEntry).where(JournalEntry.control_id == "W2")).one()
    assert (entry.status, entry.ack_code) == ("accepted", "AA")


def test_severity_e_refuses_the_same_message(engine: Engine) -> None:
    """The same traffic under `severity: E` is AE and nothing of it is stored."""
    intake = _intake(engine, _with_severity("E"))
    send(intake, _message("E1", "F"))
    back = send(intake, _message("E2", "P"))
    assert back is not None and back.code is Outcome.AE
    assert count(engine, LabOrder) == 1


def test_the_rule_sees_what_it_is_given_and_nothing_else() -> None:
    """The rule reads statuses only through the lookup the writer passes it."""
    order = OrderRecord("K", "", "F1", "", "", "", "P", None, None, "", "", ())
    mapped = Mapped("lab", Patient((), "", "", None, "", ""), lab_orders=(order,))
    rule = StatusTransitionRule({LAB: "E"})
    asked: list[tuple[str, str]] = []

    def latest(table: str, key: str) -> str:
        asked.append((table, key))
        return "F"

    (issue,) = rule.check(mapped, latest)
    assert (str(issue.location), issue.severity, issue.rule) == ("OBR^1^25", "E", LAB)
    assert asked == [("lab_orders", "K")]
    assert rule.check(mapped, lambda _t, _k: "") == ()
    assert illegal_transition("C", "I") and not illegal_transition("P", "F")
