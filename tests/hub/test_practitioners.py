"""The practitioner register: add and import, suspend / revoke / reinstate, the final revocation, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from registers import FINGERPRINT, cli, journal, make_config, one_error_line, org, person
from sqlalchemy import Engine, select

from hub.governance.journal import verify
from hub.governance.specs import RegistryError
from hub.registers import (
    change_state,
    import_organizations,
    import_practitioners,
    list_practitioners,
    practitioner,
    read_practitioners,
    state_of,
)
from hub.store.models import PractitionerEvent

PEOPLE = (
    "- id: dr-tremblay\n  licence: '12345'\n  order: CMQ\n  family: Tremblay\n  given: Marie\n"
    "  profession: médecin\n  organizations: [chum]\n  nam: TREM70510112\n"
    "- {id: ph-roy, licence: '2001-88', order: OPQ, family: Roy, profession: pharmacien, state: suspended}\n"
)


@pytest.fixture
def registered(engine: Engine) -> Engine:
    """An engine whose organization register holds chum and pharma."""
    assert import_organizations(engine, [org(), org("pharma", "community-pharmacy")], "alice").added
    return engine


def events(engine: Engine, pid: str) -> list[tuple[str, str, str, str]]:
    """(action, state, operator, reason) of a practitioner's events, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(PractitionerEvent).where(PractitionerEvent.practitioner_id == pid).order_by(PractitionerEvent.id)
        ).all()
    return [(r.action, r.state, r.operator, r.reason) for r in rows]


def test_import_add_update_unchanged_list_and_show(registered: Engine) -> None:
    """Imports report what they did; listing and show give the fields back, show with the history."""
    fingerprint = FINGERPRINT  # lower case as given
    spec = person(certificates=[fingerprint], nam="TREM70510112")
    assert import_practitioners(registered, [spec], "alice", "onboarding").added == ["dr-tremblay"]
    assert import_practitioners(registered, [spec], "alice").unchanged == ["dr-tremblay"]
    moved = person(certificates=[fingerprint], organizations=["chum", "pharma"], nam="TREM70510112")
    assert import_practitioners(registered, [moved], "bob", "also at pharma").updated == ["dr-tremblay"]
    (listed,) = list_practitioners(registered)
    assert listed == {
        "id": "dr-tremblay",
        "licence": "12345",
        "order": "CMQ",
        "family": "Tremblay",
        "given": "Marie",
        "profession": "médecin",
        "organizations": ["chum", "pharma"],
        "certificates": [fingerprint.upper()],
        "nam": "TREM70510112",
        "state": "active",
    }
    shown = practitioner(registered, "dr-tremblay")
    assert shown is not None
    assert [(h["action"], h["state"], h["operator"], h["reason"]) for h in shown["history"]] == [
        ("import", "active", "alice", "onboarding"),
        ("update", "active", "bob", "also at pharma"),
    ]
    assert practitioner(registered, "nobody") is None


def test_the_state_of_a_spec_applies_on_add_only(registered: Engine) -> None:
    """A suspended practitioner stays suspended when a spec saying active is imported again."""
    import_practitioners(registered, [person(state="suspended")], "alice")
    with registered.connect() as conn:
        assert state_of(conn, "dr-tremblay") == "suspended"
    assert import_practitioners(registered, [person(given="M.")], "config").updated == ["dr-tremblay"]
    with registered.connect() as conn:
        assert state_of(conn, "dr-tremblay") == "suspended"
        assert state_of(conn, "nobody") is None


def test_suspend_reinstate_and_revoke(registered: Engine) -> None:
    """Suspension is reversible; reinstate applies to a suspended practitioner only; each change is an event."""
    import_practitioners(registered, [person()], "alice")
    assert change_state(registered, "dr-tremblay", "suspend", "alice", "inquiry") == "suspended"
    with pytest.raises(RegistryError, match="is suspended: suspend does not apply"):
        change_state(registered, "dr-tremblay", "suspend", "alice", "again")
    assert change_state(registered, "dr-tremblay", "reinstate", "bob", "inquiry closed") == "active"
    with pytest.raises(RegistryError, match="is active: reinstate does not apply"):
        change_state(registered, "dr-tremblay", "reinstate", "bob", "again")
    assert change_state(registered, "dr-tremblay", "revoke", "carol", "licence struck off") == "revoked"
    assert events(registered, "dr-tremblay") == [
        ("import", "active", "alice", "import"),
        ("suspend", "suspended", "alice", "inquiry"),
        ("reinstate", "active", "bob", "inquiry closed"),
        ("revoke", "revoked", "carol", "licence struck off"),
    ]


def test_revoked_is_final(registered: Engine) -> None:
    """No action and no import changes a revoked practitioner, whatever the spec says."""
    import_practitioners(registered, [person()], "alice")
    change_state(registered, "dr-tremblay", "revoke", "alice", "struck off")
    for action in ("reinstate", "suspend", "revoke"):
        with pytest.raises(RegistryError, match="revoked: the revocation is final"):
            change_state(registered, "dr-tremblay", action, "mallory", "try")
    report = import_practitioners(registered, [person(given="Renamed")], "mallory")
    assert [pid for pid, _ in report.refused] == ["dr-tremblay"]
    assert "revoked" in report.refused[0][1]
    assert import_practitioners(registered, [person()], "mallory").refused
    with registered.connect() as conn:
        assert state_of(conn, "dr-tremblay") == "revoked"
    assert len(events(registered, "dr-tremblay")) == 2


def test_change_state_refusals(registered: Engine) -> None:
    """An unknown practitioner or action, or a missing reason, is refused before anything is written."""
    import_practitioners(registered, [person()], "alice")
    with pytest.raises(RegistryError, match="no practitioner 'nobody'"):
        change_state(registered, "nobody", "suspend", "alice", "why")
    with pytest.raises(RegistryError, match="a reason is required"):
        change_state(registered, "dr-tremblay", "suspend", "alice", "  ")
    with pytest.raises(RegistryError, match="unknown action 'cut'"):
        change_state(registered, "dr-tremblay", "cut", "alice", "why")
    assert len(events(registered, "dr-tremblay")) == 1


def test_a_licence_held_by_another_practitioner_is_refused(registered: Engine) -> None:
    """(order, licence) names one practitioner; the same number from another order is another licence."""
    import_practitioners(registered, [person()], "alice")
    report = import_practitioners(registered, [person("dr-copy")], "mallory")
    assert report.refused == [("dr-copy", "licence CMQ 12345 is already held by practitioner 'dr-tremblay'")]
    assert practitioner(registered, "dr-copy") is None
    assert import_practitioners(registered, [person("inf-x", order="OIIQ")], "alice").added == ["inf-x"]
    change_state(registered, "dr-tremblay", "revoke", "alice", "struck off")
    assert import_practitioners(registered, [person("dr-copy")], "mallory").refused  # a revoked one keeps it


def test_an_unknown_organization_is_refused(registered: Engine) -> None:
    """Every organization a practitioner names must be in the organization register."""
    report = import_practitioners(registered, [person(organizations=["chum", "hmr"])], "alice")
    assert report.refused == [("dr-tremblay", "organization 'hmr' is not in the organization register")]
    assert list_practitioners(registered) == []
    import_practitioners(registered, [person()], "alice")
    assert import_practitioners(registered, [person(organizations=["hmr"])], "alice").refused
    assert practitioner(registered, "dr-tremblay")["organizations"] == ["chum"]  # type: ignore[index]


def test_every_change_is_journaled_with_operator_and_reason(registered: Engine) -> None:
    """practitioner.<action>, chained, naming the practitioner, the operator and the reason."""
    before = len(journal(registered))
    import_practitioners(registered, [person()], "alice", "onboarding", action="add")
    import_practitioners(registered, [person("ph-roy", "9", order="OPQ")], "alice", "pharmacists")
    import_practitioners(registered, [person(given="M.")], "bob", "typo")
    change_state(registered, "dr-tremblay", "suspend", "carol", "inquiry")
    change_state(registered, "dr-tremblay", "reinstate", "carol", "closed")
    change_state(registered, "dr-tremblay", "revoke", "dave", "struck off")
    assert journal(registered)[before:] == [
        ("practitioner.add", "alice", "dr-tremblay: onboarding"),
        ("practitioner.import", "alice", "ph-roy: pharmacists"),
        ("practitioner.update", "bob", "dr-tremblay: typo"),
        ("practitioner.suspend", "carol", "dr-tremblay: inquiry"),
        ("practitioner.restore", "carol", "dr-tremblay: closed"),
        ("practitioner.revoke", "dave", "dr-tremblay: struck off"),
    ]
    assert verify(registered)[0] is None


def test_specs_validate_licence_order_certificates_and_nam(tmp_path: Path) -> None:
    """A bad entry gives one line naming it; fingerprints are stored upper-case."""
    specs = read_practitioners(
        [{"id": "a", "licence": "1", "order": "OIIQ", "family": "A", "profession": "inf."}], tmp_path
    )
    assert specs[0].state == "active"
    base = {"id": "a", "licence": "1", "order": "CMQ", "family": "A", "profession": "médecin"}
    cases = {
        "order": ("cmq", r"practitioners\.1\.order: String should match"),
        "licence": ("12|34", r"practitioners\.1\.licence: String should match"),
        "nam": ("TREM7051011", r"practitioners\.1\.nam: String should match"),
        "certificates": (["AB:CD"], r"practitioners\.1\.certificates\.0: String should match"),
        "state": ("cut", r"practitioners\.1\.state: Input should be"),
        "colour": ("red", r"practitioners\.1\.colour: Extra inputs are not permitted"),
    }
    for key, (value, message) in cases.items():
        with pytest.raises(RegistryError, match=f"^{message}") as caught:
            read_practitioners([base, {**base, key: value}], tmp_path)
        assert "\n" not in str(caught.value)
    (tmp_path / "people.yaml").write_text(PEOPLE, encoding="utf-8")
    people = read_practitioners({"file": "people.yaml"}, tmp_path)
    assert [(p.id, p.state) for p in people] == [("dr-tremblay", "active"), ("ph-roy", "suspended")]
    assert person(certificates=[FINGERPRINT]).certificates == [FINGERPRINT.upper()]


def test_cli_add_import_list_show_and_state_changes(tmp_path: Path) -> None:
    """The whole round trip through `passerelle practitioners …`."""
    config = make_config(tmp_path)
    orgs = tmp_path / "orgs.yaml"
    orgs.write_text("- {id: chum, name: CHUM, type: hospital}\n", encoding="utf-8")
    assert cli(config, "organizations", "import", str(orgs)).exit_code == 0
    added = cli(
        config, "practitioners", "add", "--id", "dr-gagnon", "--licence", "777", "--order", "CMQ",
        "--family", "Gagnon", "--given", "Luc", "--profession", "médecin", "--organization", "chum",
        "--certificate", FINGERPRINT, "--nam", "GAGL80010199", "--reason", "new resident",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert added.stdout == "added\tdr-gagnon\n"
    people = tmp_path / "people.yaml"
    people.write_text(PEOPLE, encoding="utf-8")
    imported = cli(config, "practitioners", "import", str(people))
    assert imported.exit_code == 0, imported.stderr
    assert imported.stdout.splitlines() == ["added\tdr-tremblay", "added\tph-roy"]
    listed = cli(config, "practitioners", "list")
    assert [line.split()[:2] for line in listed.stdout.splitlines()] == [
        ["dr-gagnon", "active"],
        ["dr-tremblay", "active"],
        ["ph-roy", "suspended"],
    ]
    rows = json.loads(cli(config, "practitioners", "list", "--json").stdout)
    assert rows[0]["certificates"] == [FINGERPRINT.upper()]
    assert cli(config, "practitioners", "reinstate", "ph-roy", "--reason", "cleared").stdout == "ph-roy: active\n"
    assert cli(config, "practitioners", "suspend", "dr-gagnon", "--reason", "leave").exit_code == 0
    assert cli(config, "practitioners", "revoke", "dr-gagnon", "--reason", "struck off").exit_code == 0
    shown = json.loads(cli(config, "practitioners", "show", "dr-gagnon", "--json").stdout)
    assert shown["state"] == "revoked"
    assert [(h["action"], h["operator"], h["reason"]) for h in shown["history"]] == [
        ("add", "alice", "new resident"),
        ("suspend", "alice", "leave"),
        ("revoke", "alice", "struck off"),
    ]
    text = cli(config, "practitioners", "show", "dr-gagnon").stdout
    assert "state\trevoked" in text
    assert "nam\tGAGL80010199" in text
    final = one_error_line(cli(config, "practitioners", "reinstate", "dr-gagnon", "--reason", "appeal"))
    assert "revocation is final" in final


def test_cli_refusals_are_one_line(tmp_path: Path) -> None:
    """Unknown id, invalid spec, unknown organization, missing reason, existing id: one error line each."""
    config = make_config(tmp_path)
    add = ("practitioners", "add", "--id", "dr-x", "--licence", "1", "--family", "X", "--profession", "médecin")
    assert "no practitioner 'nobody'" in one_error_line(cli(config, "practitioners", "show", "nobody"))
    assert "no practitioner 'nobody'" in one_error_line(
        cli(config, "practitioners", "suspend", "nobody", "--reason", "r")
    )
    assert "order: String should match" in one_error_line(cli(config, *add, "--order", "cmq"))
    unknown = one_error_line(cli(config, *add, "--order", "CMQ", "--organization", "hmr"))
    assert "organization 'hmr' is not in the organization register" in unknown
    assert cli(config, *add, "--order", "CMQ").exit_code == 0
    assert "exists" in one_error_line(cli(config, *add, "--order", "CMQ"))
    assert "a reason is required" in one_error_line(cli(config, "practitioners", "suspend", "dr-x"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(PEOPLE.replace("order: OPQ", "order: opq"), encoding="utf-8")
    assert "practitioners.1.order" in one_error_line(cli(config, "practitioners", "import", str(bad)))
    clash = tmp_path / "clash.yaml"
    clash.write_text("- {id: dr-y, licence: '1', order: CMQ, family: Y, profession: médecin}\n", encoding="utf-8")
    refused = cli(config, "practitioners", "import", str(clash))
    assert refused.exit_code == 1
    assert "refused\tdr-y\tlicence CMQ 1 is already held by practitioner 'dr-x'" in refused.stdout
    assert [row["id"] for row in json.loads(cli(config, "practitioners", "list", "--json").stdout)] == ["dr-x"]
