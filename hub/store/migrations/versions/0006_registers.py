"""The common registers: organizations, practitioners, versioned patients, merges, unresolved.

- ``organizations`` and ``organization_codes``: places and organizations, the codes that name
  them; partners name theirs (``partners.organization``) and the assigning authorities they may
  use (``partners.authorities``). Writes bump ``registry_version`` like the partner registry's.
- ``practitioners``, ``practitioner_events`` (append-only), ``practitioner_links``: the
  practitioner register and the providers each message names, as sent and as linked.
- ``patient_versions`` (append-only): every demographic version; each existing patient gets its
  current demographics as version 1. ``patients.address`` and ``patients.merged_into``.
- ``patient_merges`` (append-only): merges and unmerges.
- ``unresolved``: messages and DICOM objects whose patient could not be told for certain; their
  records point to no patient (the record tables' ``patient_id`` becomes nullable).
- ``messages.partner_id`` and ``dicom_instances.organization_id``: whose records they are.

Existing identifiers keep the authority they were stored under.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RECORDS = ("lab_orders", "lab_observations", "medication_events", "imaging_orders", "imaging_reports", "dicom_instances")
APPEND_ONLY = ("patient_versions", "patient_merges", "practitioner_events")
REGISTRY = ("organizations", "organization_codes")


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False, primary_key=True)


def _text(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=False)


def _stamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(name: str, target: str, nullable: bool = False, kind: Any = None) -> sa.Column[Any]:
    return sa.Column(name, kind if kind is not None else sa.Integer(), sa.ForeignKey(target), nullable=nullable)


def _organizations() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(64), primary_key=True),
        _text("name"),
        sa.Column("type", sa.String(32), nullable=False),
        _stamp("created_at"),
    )
    op.create_table(
        "organization_codes",
        _id(),
        _fk("organization_id", "organizations.id", kind=sa.String(64)),
        sa.Column("kind", sa.String(16), nullable=False),
        _text("value"),
        sa.UniqueConstraint("kind", "value", name="uq_organization_codes_kind"),
    )
    op.create_index("ix_organization_codes_organization_id", "organization_codes", ["organization_id"])


def _practitioners() -> None:
    op.create_table(
        "practitioners",
        sa.Column("id", sa.String(64), primary_key=True),
        _text("licence"),
        sa.Column("licence_order", sa.String(16), nullable=False),
        *(_text(n) for n in ("family", "given", "profession", "organizations", "certificates", "nam")),
        _stamp("created_at"),
        sa.UniqueConstraint("licence_order", "licence", name="uq_practitioners_licence_order"),
    )
    op.create_table(
        "practitioner_events",
        _id(),
        _fk("practitioner_id", "practitioners.id", kind=sa.String(64)),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _text("operator"),
        _text("reason"),
        _stamp("at"),
    )
    op.create_index("ix_practitioner_events_practitioner_id", "practitioner_events", ["practitioner_id"])
    op.create_table(
        "practitioner_links",
        _id(),
        _fk("message_id", "messages.id"),
        sa.Column("field", sa.String(16), nullable=False),
        _text("sent"),
        _fk("practitioner_id", "practitioners.id", nullable=True, kind=sa.String(64)),
    )
    op.create_index("ix_practitioner_links_message_id", "practitioner_links", ["message_id"])
    op.create_index("ix_practitioner_links_practitioner_id", "practitioner_links", ["practitioner_id"])


def _patients() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("address", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_patients_merged_into_patients", "patients", ["merged_into"], ["id"])
        batch.create_index("ix_patients_merged_into", ["merged_into"])
    op.create_table(
        "patient_versions",
        _id(),
        _fk("patient_id", "patients.id"),
        sa.Column("version", sa.Integer(), nullable=False),
        *(_text(n) for n in ("family", "given", "birth_date", "sex", "address")),
        _fk("message_id", "messages.id", nullable=True),
        _stamp("recorded_at"),
        sa.UniqueConstraint("patient_id", "version", name="uq_patient_versions_patient_id"),
    )
    op.create_index("ix_patient_versions_patient_id", "patient_versions", ["patient_id"])
    op.execute(
        "INSERT INTO patient_versions (patient_id, version, family, given, birth_date, sex, address, recorded_at) "
        "SELECT id, 1, family, given, birth_date, sex, '', updated_at FROM patients"
    )
    op.create_table(
        "patient_merges",
        _id(),
        sa.Column("action", sa.String(8), nullable=False),
        _fk("merged_id", "patients.id"),
        _fk("survivor_id", "patients.id"),
        _fk("message_id", "messages.id", nullable=True),
        _text("operator"),
        _text("reason"),
        _stamp("at"),
    )
    op.create_index("ix_patient_merges_merged_id", "patient_merges", ["merged_id"])
    op.create_index("ix_patient_merges_survivor_id", "patient_merges", ["survivor_id"])


def _unresolved() -> None:
    op.create_table(
        "unresolved",
        _id(),
        _fk("message_id", "messages.id", nullable=True),
        _fk("dicom_instance_id", "dicom_instances.id", nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        _text("detail"),
        sa.Column("state", sa.String(16), nullable=False),
        _fk("patient_id", "patients.id", nullable=True),
        _text("operator"),
        _text("resolution"),
        _stamp("created_at"),
        _stamp("resolved_at", nullable=True),
    )
    for column in ("message_id", "dicom_instance_id", "state"):
        op.create_index(f"ix_unresolved_{column}", "unresolved", [column])


def _guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION passerelle_append_only()"
            )
        for table in REGISTRY:
            op.execute(
                f"CREATE TRIGGER {table}_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION passerelle_registry_bump()"
            )
        return
    for table in APPEND_ONLY:
        for op_name in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    for table in REGISTRY:
        for op_name in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_bump_{op_name.lower()} AFTER {op_name} ON {table} "
                "BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END"
            )


def upgrade() -> None:
    """Apply this revision."""
    _organizations()
    _practitioners()
    _patients()
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("authorities", sa.Text(), nullable=False, server_default="[]"))
    op.add_column("messages", sa.Column("partner_id", sa.Text(), nullable=False, server_default=""))
    for table in RECORDS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("patient_id", existing_type=sa.Integer(), nullable=True)
            if table == "dicom_instances":
                batch.add_column(sa.Column("organization_id", sa.Text(), nullable=False, server_default=""))
    _unresolved()
    _guards()


def downgrade() -> None:
    """Revert this revision (records held unresolved would lose their hold: refused if any)."""
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM unresolved")).scalar():
        raise RuntimeError("unresolved messages exist: resolve them before downgrading")
    for table in ("unresolved", "patient_merges", "patient_versions", "practitioner_links", "practitioner_events"):
        op.drop_table(table)
    op.drop_table("practitioners")
    op.drop_table("organization_codes")
    op.drop_table("organizations")
    for table in RECORDS:
        with op.batch_alter_table(table) as batch:
            if table == "dicom_instances":
                batch.drop_column("organization_id")
            batch.alter_column("patient_id", existing_type=sa.Integer(), nullable=False)
    op.execute("ALTER TABLE messages DROP COLUMN partner_id")  # native on both; no trigger names it
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("authorities")
    with op.batch_alter_table("patients") as batch:
        batch.drop_index("ix_patients_merged_into")
        batch.drop_constraint("fk_patients_merged_into_patients", type_="foreignkey")
        batch.drop_column("merged_into")
        batch.drop_column("version")
        batch.drop_column("address")
