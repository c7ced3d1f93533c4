"""The partner registry, the irreversible cut and the hash-chained journal, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from guards import lift_guards
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hub.governance.directory import PartnerDirectory
from hub.governance.journal import verify
from hub.governance.partners import PartnerSpec, RegistryError, change_state, import_specs, issue_certificate
from hub.governance.policy import CATEGORIES, load_policies
from hub.registers import OrganizationSpec, import_organizations
from hub.store.models import JournalEntry, Partner, PartnerEvent


@pytest.fixture(autouse=True)
def chum(engine: Engine) -> None:
    """Every partner here belongs to the CHUM, a hospital of the organization register."""
    import_organizations(
        engine, [OrganizationSpec.model_validate({"id": "chum", "name": "CHUM", "type": "hospital"})], "t"
    )


def spec(pid: str = "sil-chum", category: str = "government", app: str = "LIS", fac: str = "CHUM") -> PartnerSpec:
    """A partner spec with one MSH identity."""
    return PartnerSpec.model_validate(
        {
            "id": pid,
            "name": pid.upper(),
            "organization": "chum",
            "category": category,
            "domains": ["lab"],
            "product": {"name": f"P-{pid}", "version": "1.0"},
            "identities": [{"sending_application": app, "sending_facility": fac}],
        }
    )


def cut_partner(engine: Engine) -> None:
    """Import sil-chum and cut it."""
    import_specs(engine, [spec()], "alice")
    change_state(engine, "sil-chum", "cut", "alice", "data sharing agreement ended")


def test_import_add_update_unchanged_and_journal_with_operator(engine: Engine) -> None:
    """Imports report what they did; every change is a chained journal entry with operator and reason."""
    assert import_specs(engine, [spec()], "alice", "onboarding").added == ["sil-chum"]
    assert import_specs(engine, [spec()], "alice").unchanged == ["sil-chum"]
    assert import_specs(engine, [spec(fac="CHUM2")], "bob", "new facility").updated == ["sil-chum"]
    with engine.connect() as conn:
        entries = conn.execute(select(JournalEntry).order_by(JournalEntry.seq)).all()
    assert [(e.status, e.operator, e.reason) for e in entries] == [
        ("organization.import", "t", "chum: import"),
        ("partner.import", "alice", "onboarding"),
        ("partner.update", "bob", "new facility"),
    ]
    assert verify(engine)[0] is None


def test_insurers_and_data_vaults_are_cut_on_arrival(engine: Engine) -> None:
    """Categories the policy cuts are cut when imported, by the policy as operator."""
    import_specs(engine, [spec("assureur", "insurer", "INS", "X"), spec("voute", "data-vault", "VLT", "X")], "alice")
    with engine.connect() as conn:
        states = conn.execute(select(PartnerEvent.partner_id, PartnerEvent.state, PartnerEvent.operator)).all()
    assert ("assureur", "cut", "policy") in states
    assert ("voute", "cut", "policy") in states


def test_cut_cannot_be_undone_by_any_command(engine: Engine) -> None:
    """approve, suspend and a re-import are all refused after a cut."""
    cut_partner(engine)
    for action in ("approve", "suspend", "cut"):
        with pytest.raises(RegistryError, match="irreversible"):
            change_state(engine, "sil-chum", action, "mallory", "try")
    report = import_specs(engine, [spec()], "mallory")
    assert report.refused[0][0] == "sil-chum"
    assert "cut" in report.refused[0][1]


def test_cut_cannot_be_undone_through_the_orm(engine: Engine) -> None:
    """An ORM update of the partner, or a new active event, is refused by the database."""
    cut_partner(engine)
    with Session(engine) as s:
        partner = s.get(Partner, "sil-chum")
        assert partner is not None
        partner.name = "renamed to slip past the cut"
        with pytest.raises(DBAPIError):
            s.commit()
    with Session(engine) as s:
        event = PartnerEvent(partner_id="sil-chum", action="approve", state="active", operator="m", reason="r")
        event.at = datetime.now(UTC)
        s.add(event)
        with pytest.raises(DBAPIError):
            s.commit()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE partner_events SET state = 'active'",
        "DELETE FROM partner_events",
        "INSERT INTO partner_events (partner_id, action, state, operator, reason, at) "
        "VALUES ('sil-chum', 'approve', 'active', 'm', 'r', CURRENT_TIMESTAMP)",
        "DELETE FROM partners WHERE id = 'sil-chum'",
        "UPDATE partners SET category = 'private-ramq' WHERE id = 'sil-chum'",
        "DELETE FROM partner_identities WHERE partner_id = 'sil-chum'",
        "UPDATE partner_identities SET partner_id = partner_id WHERE partner_id = 'sil-chum'",
    ],
)
def test_cut_cannot_be_undone_with_raw_sql(engine: Engine, statement: str) -> None:
    """Raw SQL that would reinstate, edit or forget a cut partner fails in the database itself."""
    cut_partner(engine)
    with engine.connect() as conn, pytest.raises(DBAPIError):
        conn.execute(text(statement))
    directory = PartnerDirectory()
    directory.refresh(engine)
    assert directory.authorize("LIS", "CHUM", "", "lab", "lab").reason == "cut"


def test_a_new_partner_with_a_cut_partners_identity_is_refused(engine: Engine) -> None:
    """Another id presenting the cut partner's (MSH-3, MSH-4) can't be registered."""
    cut_partner(engine)
    report = import_specs(engine, [spec("sil-chum-bis")], "mallory")
    assert [pid for pid, _ in report.refused] == ["sil-chum-bis"]
    directory = PartnerDirectory()
    directory.refresh(engine)
    assert directory.authorize("LIS", "CHUM", "", "lab", "lab").allowed is False


def test_suspend_then_approve_is_reversible(engine: Engine) -> None:
    """Suspension is not a cut: approve brings the partner back."""
    import_specs(engine, [spec()], "alice")
    directory = PartnerDirectory()
    change_state(engine, "sil-chum", "suspend", "alice", "audit")
    directory.refresh(engine)
    assert directory.authorize("LIS", "CHUM", "", "lab", "lab").reason == "suspended"
    change_state(engine, "sil-chum", "approve", "alice", "audit done")
    directory.refresh(engine)
    assert directory.authorize("LIS", "CHUM", "", "lab", "lab").allowed


def test_certificates_are_per_product_version_and_expire(engine: Engine) -> None:
    """A private-ramq partner links only with an unexpired certificate for its product version."""
    import_specs(engine, [spec("pharma", "private-ramq", "PHX", "QC")], "alice")
    directory = PartnerDirectory()
    directory.refresh(engine)
    assert directory.authorize("PHX", "QC", "", "lab", "lab").reason == "uncertified"
    now = datetime.now(UTC)
    issue_certificate(engine, ("P-pharma", "0.9"), ("tgv-lab", "2026.1"), (now, now + timedelta(days=365)))
    directory.refresh(engine)
    assert directory.authorize("PHX", "QC", "", "lab", "lab").reason == "uncertified"
    issue_certificate(
        engine, ("P-pharma", "1.0"), ("tgv-lab", "2026.1"), (now - timedelta(days=400), now - timedelta(days=1))
    )
    directory.refresh(engine)
    assert directory.authorize("PHX", "QC", "", "lab", "lab").reason == "certificate-expired"
    issue_certificate(engine, ("P-pharma", "1.0"), ("tgv-lab", "2026.1"), (now, now + timedelta(days=365)))
    directory.refresh(engine)
    assert directory.authorize("PHX", "QC", "", "lab", "lab") == directory.authorize("PHX", "QC", "", "lab", "lab")
    assert directory.authorize("PHX", "QC", "", "lab", "lab").reason == "allowed-certified"


def test_policy_file_covers_every_category() -> None:
    """The versioned policy names a rule for each category the registry accepts."""
    (policy,) = load_policies()
    assert set(policy.categories) == set(CATEGORIES)
    assert str(policy.effective) == "2019-05-01"


def _chain(engine: Engine, n: int = 5) -> None:
    for i in range(n):
        import_specs(engine, [spec(f"p{i}", app=f"A{i}", fac="F")], "alice")


def test_journal_verify_detects_an_edited_row(engine: Engine) -> None:
    """Changing any chained field breaks the link at that entry."""
    _chain(engine)
    assert verify(engine)[0] is None
    with engine.begin() as conn:
        lift_guards(conn)
        conn.execute(text("UPDATE journal SET reason = 'nothing to see' WHERE seq = 3"))
    broken, _, _ = verify(engine)
    assert broken is not None
    assert broken.seq == 3


def test_journal_verify_detects_a_deleted_row(engine: Engine) -> None:
    """A missing entry in the middle, or at the tail, is named."""
    _chain(engine)
    with engine.begin() as conn:
        lift_guards(conn)
        conn.execute(text("DELETE FROM journal WHERE seq = 2"))
    broken, _, _ = verify(engine)
    assert broken is not None
    assert broken.seq == 2
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM journal WHERE seq >= 2"))
    broken, _, _ = verify(engine)
    assert broken is not None
    assert "tail" in broken.problem


def test_journal_verify_detects_two_swapped_rows(engine: Engine) -> None:
    """Swapping the sequence numbers of two entries breaks the chain at the first of them."""
    _chain(engine)
    with engine.begin() as conn:
        lift_guards(conn)
        conn.execute(text("UPDATE journal SET seq = -1 WHERE seq = 2"))
        conn.execute(text("UPDATE journal SET seq = 2 WHERE seq = 4"))
        conn.execute(text("UPDATE journal SET seq = 4 WHERE seq = -1"))
    broken, _, _ = verify(engine)
    assert broken is not None
    assert broken.seq == 2
