"""The organization register: import, codes held by one organization only, the journal, the CLI, config.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from registers import cli, journal, make_config, one_error_line, org, person
from sqlalchemy import Engine, select
from structlog.testing import capture_logs

from hub.config import Config, ConfigError, load
from hub.engine.service import import_config_partners
from hub.governance.journal import verify
from hub.governance.specs import RegistryError
from hub.registers import import_organizations, list_organizations, organization, read_organizations
from hub.store.models import OrganizationCode, Partner, Practitioner

PARTNER = (
    "  - id: sil-chum\n    name: SIL CHUM\n    organization: {org}\n    category: government\n"
    "    domains: [lab]\n    product: {{name: LabSys, version: '4.2'}}\n"
    "    identities:\n      - {{sending_application: SIL, sending_facility: CHUM}}\n"
)
ORGANIZATIONS = (
    "- id: chum\n  name: CHUM\n  type: hospital\n  codes: {facility: [CHUM], location: [URG, '4E']}\n"
    "- id: biolab\n  name: Biolab\n  type: medical-biology-lab\n  codes: {performing: [BIO]}\n"
)


def test_import_add_update_unchanged_list_and_show(engine: Engine) -> None:
    """An import reports what it did; listings give the type's domains and the codes by kind."""
    assert import_organizations(engine, [org(facility=["CHUM"])], "alice").added == ["chum"]
    assert import_organizations(engine, [org(facility=["CHUM"])], "alice").unchanged == ["chum"]
    changed = org(facility=["CHUM", "HND"], accession_issuer=["CHUM-RAD"])
    assert import_organizations(engine, [changed], "bob").updated == ["chum"]
    assert import_organizations(engine, [org("pharma", "community-pharmacy")], "bob").added == ["pharma"]
    listed = list_organizations(engine)
    assert [o["id"] for o in listed] == ["chum", "pharma"]
    assert listed[0]["domains"] == ["consultation", "imaging", "lab", "pharmacy", "registry"]
    assert listed[0]["codes"] == {
        "facility": ["CHUM", "HND"],
        "performing": [],
        "location": [],
        "accession-issuer": ["CHUM-RAD"],
    }
    assert listed[1]["domains"] == ["consultation", "pharmacy"]
    assert organization(engine, "chum") == listed[0]
    assert organization(engine, "nowhere") is None


def test_a_dropped_code_is_released(engine: Engine) -> None:
    """An update removes the codes the spec no longer gives; another organization may then take them."""
    import_organizations(engine, [org(facility=["CHUM", "OLD"])], "alice")
    import_organizations(engine, [org(facility=["CHUM"])], "alice")
    assert import_organizations(engine, [org("other", facility=["OLD"])], "alice").added == ["other"]
    with engine.connect() as conn:
        owners = dict(conn.execute(select(OrganizationCode.value, OrganizationCode.organization_id)).all())
    assert owners == {"CHUM": "chum", "OLD": "other"}


def test_a_code_held_by_another_organization_is_refused(engine: Engine) -> None:
    """The refusal names the code and its holder; the refused organization is not written at all."""
    import_organizations(engine, [org(facility=["CHUM"])], "alice")
    report = import_organizations(engine, [org("copy", location=["X"], facility=["CHUM"])], "mallory")
    assert report.refused == [("copy", "facility code 'CHUM' is already held by organization 'chum'")]
    assert organization(engine, "copy") is None
    # the same value under another kind is another code
    assert import_organizations(engine, [org("labo", performing=["CHUM"])], "alice").added == ["labo"]


def test_every_change_is_journaled_with_operator_and_reason(engine: Engine) -> None:
    """organization.import then organization.update, chained, naming the organization, operator and reason."""
    import_organizations(engine, [org()], "alice", "onboarding")
    import_organizations(engine, [org()], "alice", "nothing to do")
    import_organizations(engine, [org(facility=["CHUM"])], "bob", "MSH-4 code")
    assert journal(engine) == [
        ("organization.import", "alice", "chum: onboarding"),
        ("organization.update", "bob", "chum: MSH-4 code"),
    ]
    assert verify(engine)[0] is None


def test_read_organizations_names_the_bad_entry(tmp_path: Path) -> None:
    """A list, or {file: ...} relative to the base; an invalid entry gives one line naming it."""
    (tmp_path / "orgs.yaml").write_text(ORGANIZATIONS, encoding="utf-8")
    specs = read_organizations({"file": "orgs.yaml"}, tmp_path)
    assert [(s.id, s.type, sorted(s.domains)) for s in specs] == [
        ("chum", "hospital", ["consultation", "imaging", "lab", "pharmacy", "registry"]),
        ("biolab", "medical-biology-lab", ["consultation", "lab"]),
    ]
    assert specs[0].codes.pairs() == {("facility", "CHUM"), ("location", "URG"), ("location", "4E")}
    bad = [{"id": "a", "name": "A", "type": "hospital"}, {"id": "b", "name": "B", "type": "spa"}]
    with pytest.raises(RegistryError, match=r"^organizations\.1\.type: Input should be ") as caught:
        read_organizations(bad, tmp_path)
    assert "\n" not in str(caught.value)
    with pytest.raises(RegistryError, match=r"organizations\.0\.codes\.facility\.0: String should match"):
        read_organizations([{"id": "a", "name": "A", "type": "clinic", "codes": {"facility": ["A|B"]}}], tmp_path)
    with pytest.raises(RegistryError, match=r"missing\.yaml: file not found"):
        read_organizations({"file": "missing.yaml"}, tmp_path)


def test_cli_import_list_and_show(tmp_path: Path) -> None:
    """`organizations import` then `list` and `show`, as text and JSON; an unknown id is one error line."""
    config = make_config(tmp_path)
    listing = tmp_path / "orgs.yaml"
    listing.write_text(ORGANIZATIONS, encoding="utf-8")
    imported = cli(config, "organizations", "import", str(listing), "--reason", "first load")
    assert imported.exit_code == 0, imported.stderr
    assert imported.stdout.splitlines() == ["added\tchum", "added\tbiolab"]
    assert "unchanged\tchum" in cli(config, "organizations", "import", str(listing)).stdout
    listed = cli(config, "organizations", "list")
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["biolab", "chum"]
    rows = json.loads(cli(config, "organizations", "list", "--json").stdout)
    assert rows[1]["codes"]["location"] == ["4E", "URG"]
    shown = json.loads(cli(config, "organizations", "show", "biolab", "--json").stdout)
    assert shown["domains"] == ["consultation", "lab"]
    assert shown["codes"]["performing"] == ["BIO"]
    text = cli(config, "organizations", "show", "chum").stdout
    assert "type\thospital" in text
    assert "no organization 'nope'" in one_error_line(cli(config, "organizations", "show", "nope"))


def test_cli_import_refusals(tmp_path: Path) -> None:
    """A bad entry is one line naming it; a refused organization exits 1 and says why."""
    config = make_config(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {id: a, name: A, type: hospital}\n- {id: b, name: B, type: spa}\n", encoding="utf-8")
    assert "organizations.1.type" in one_error_line(cli(config, "organizations", "import", str(bad)))
    assert cli(config, "organizations", "list").stdout == ""
    clash = tmp_path / "clash.yaml"
    clash.write_text(
        "- {id: a, name: A, type: clinic, codes: {facility: [X]}}\n"
        "- {id: b, name: B, type: clinic, codes: {facility: [X]}}\n",
        encoding="utf-8",
    )
    result = cli(config, "organizations", "import", str(clash))
    assert result.exit_code == 1
    assert "added\ta" in result.stdout
    assert "refused\tb\tfacility code 'X' is already held by organization 'a'" in result.stdout
    not_yaml = tmp_path / "broken.yaml"
    not_yaml.write_text("- [unclosed\n", encoding="utf-8")
    assert "not valid YAML" in one_error_line(cli(config, "organizations", "import", str(not_yaml)))


def test_config_refuses_a_partner_of_an_undeclared_organization(tmp_path: Path) -> None:
    """Every partners[].organization must be declared in organizations:, and so must a practitioner's."""
    config = tmp_path / "c.yaml"
    config.write_text(
        "organizations:\n  - {id: chum, name: CHUM, type: hospital}\npartners:\n" + PARTNER.format(org="hmr")
    )
    with pytest.raises(ConfigError, match=r"partners\.0\.organization: 'hmr' is not declared in organizations"):
        load(config)
    config.write_text(
        "organizations:\n  - {id: chum, name: CHUM, type: hospital}\npartners:\n" + PARTNER.format(org="chum")
    )
    assert load(config).partners[0].organization == "chum"
    config.write_text(
        "organizations:\n  - {id: chum, name: CHUM, type: hospital}\npractitioners:\n"
        "  - {id: dr-a, licence: '1', order: CMQ, family: A, profession: médecin, organizations: [chum, hmr]}\n"
    )
    with pytest.raises(ConfigError, match=r"practitioners\.0\.organizations\.1: 'hmr' is not declared"):
        load(config)
    config.write_text(
        "organizations:\n  - {id: chum, name: CHUM, type: hospital}\n  - {id: chum, name: X, type: clinic}\n"
    )
    with pytest.raises(ConfigError, match="organizations: duplicate id 'chum'"):
        load(config)


def test_config_files_and_the_import_at_start(tmp_path: Path, engine: Engine) -> None:
    """{file: ...} for both registers; the start imports organizations, practitioners, then partners."""
    (tmp_path / "orgs.yaml").write_text(ORGANIZATIONS, encoding="utf-8")
    (tmp_path / "people.yaml").write_text(
        "- {id: dr-a, licence: '1', order: CMQ, family: A, profession: médecin, organizations: [chum]}\n"
    )
    config = tmp_path / "c.yaml"
    config.write_text(
        "organizations: {file: orgs.yaml}\npractitioners: {file: people.yaml}\npartners:\n" + PARTNER.format(org="chum")
    )
    loaded = load(config)
    assert [o.id for o in loaded.organizations] == ["chum", "biolab"]
    with capture_logs() as logs:
        import_config_partners(engine, loaded)
    assert [o["id"] for o in list_organizations(engine)] == ["biolab", "chum"]
    with engine.connect() as conn:
        assert conn.execute(select(Practitioner.id)).scalars().all() == ["dr-a"]
        assert conn.execute(select(Partner.id, Partner.organization)).all() == [("sil-chum", "chum")]
    events = [(e["event"], e.get("added")) for e in logs]
    assert events == [("organizations_imported", 2), ("practitioners_imported", 1), ("partners_imported", 1)]
    assert {status for status, operator, _ in journal(engine) if operator == "config"} == {
        "organization.import",
        "practitioner.import",
        "partner.import",
    }
    (tmp_path / "orgs.yaml").write_text("- {id: chum, name: CHUM, type: castle}\n")
    with pytest.raises(ConfigError, match=r"organizations\.0\.type"):
        load(config)


def test_a_practitioner_refused_at_start_is_logged(engine: Engine) -> None:
    """A refusal of the import at start is a warning naming the entry, the others are applied."""
    import_organizations(engine, [org()], "alice")
    config = Config(practitioners=[person("dr-a"), person("dr-b")], organizations=[org()])
    with capture_logs() as logs:
        import_config_partners(engine, config)
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [(e["event"], e["practitioner"]) for e in warnings] == [("practitioner_import_refused", "dr-b")]
    assert "already held by practitioner 'dr-a'" in warnings[0]["reason"]
