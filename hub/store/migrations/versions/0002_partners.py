"""Partners, their append-only states, certificates, and the hash-chained journal.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

The triggers make a cut final for every client of the database, not only for the CLI:
no UPDATE or DELETE of partner_events; no new event on a cut partner other than another cut;
no change to, or deletion of, a cut partner's row or identities; no identity that a cut
partner holds may be given to another partner.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CUT = "EXISTS (SELECT 1 FROM partner_events e WHERE e.partner_id = {ref} AND e.state = 'cut')"

SQLITE_TRIGGERS = [
    """CREATE TRIGGER partner_events_no_update BEFORE UPDATE ON partner_events
       BEGIN SELECT RAISE(ABORT, 'partner_events is append-only'); END""",
    """CREATE TRIGGER partner_events_no_delete BEFORE DELETE ON partner_events
       BEGIN SELECT RAISE(ABORT, 'partner_events is append-only'); END""",
    f"""CREATE TRIGGER partner_events_cut_is_final BEFORE INSERT ON partner_events
       WHEN NEW.state <> 'cut' AND {CUT.format(ref="NEW.partner_id")}
       BEGIN SELECT RAISE(ABORT, 'partner is cut: the cut is irreversible'); END""",
    f"""CREATE TRIGGER partners_cut_frozen_update BEFORE UPDATE ON partners
       WHEN {CUT.format(ref="OLD.id")}
       BEGIN SELECT RAISE(ABORT, 'partner is cut: its record is frozen'); END""",
    f"""CREATE TRIGGER partners_cut_frozen_delete BEFORE DELETE ON partners
       WHEN {CUT.format(ref="OLD.id")}
       BEGIN SELECT RAISE(ABORT, 'partner is cut: its record is frozen'); END""",
    f"""CREATE TRIGGER identities_cut_frozen_update BEFORE UPDATE ON partner_identities
       WHEN {CUT.format(ref="OLD.partner_id")}
       BEGIN SELECT RAISE(ABORT, 'partner is cut: its identities are frozen'); END""",
    f"""CREATE TRIGGER identities_cut_frozen_delete BEFORE DELETE ON partner_identities
       WHEN {CUT.format(ref="OLD.partner_id")}
       BEGIN SELECT RAISE(ABORT, 'partner is cut: its identities are frozen'); END""",
]

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION passerelle_partner_guard() RETURNS trigger AS $$
BEGIN
  IF TG_TABLE_NAME = 'partner_events' THEN
    IF TG_OP <> 'INSERT' THEN
      RAISE EXCEPTION 'partner_events is append-only';
    END IF;
    IF NEW.state <> 'cut' AND {CUT.format(ref="NEW.partner_id")} THEN
      RAISE EXCEPTION 'partner is cut: the cut is irreversible';
    END IF;
    RETURN NEW;
  ELSIF TG_TABLE_NAME = 'partners' THEN
    IF {CUT.format(ref="OLD.id")} THEN
      RAISE EXCEPTION 'partner is cut: its record is frozen';
    END IF;
  ELSE
    IF {CUT.format(ref="OLD.partner_id")} THEN
      RAISE EXCEPTION 'partner is cut: its identities are frozen';
    END IF;
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
"""

PG_TRIGGERS = [
    "CREATE TRIGGER partner_events_guard BEFORE INSERT OR UPDATE OR DELETE ON partner_events "
    "FOR EACH ROW EXECUTE FUNCTION passerelle_partner_guard()",
    "CREATE TRIGGER partners_guard BEFORE UPDATE OR DELETE ON partners "
    "FOR EACH ROW EXECUTE FUNCTION passerelle_partner_guard()",
    "CREATE TRIGGER identities_guard BEFORE UPDATE OR DELETE ON partner_identities "
    "FOR EACH ROW EXECUTE FUNCTION passerelle_partner_guard()",
    # TRUNCATE bypasses row triggers: refuse it on the append-only table.
    "CREATE OR REPLACE FUNCTION passerelle_no_truncate() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION 'partner_events is append-only'; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER partner_events_no_truncate BEFORE TRUNCATE ON partner_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION passerelle_no_truncate()",
]


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "partners",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("organization", sa.Text(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("product_name", sa.Text(), nullable=False),
        sa.Column("product_version", sa.Text(), nullable=False),
        sa.Column("domains", sa.Text(), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "partner_identities",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("partner_id", sa.String(64), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.UniqueConstraint("kind", "value", name="uq_partner_identities_kind"),
    )
    op.create_index("ix_partner_identities_partner_id", "partner_identities", ["partner_id"])
    op.create_table(
        "partner_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("partner_id", sa.String(64), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("operator", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_partner_events_partner_id", "partner_events", ["partner_id"])
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("product_name", sa.Text(), nullable=False),
        sa.Column("product_version", sa.Text(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("plan_version", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "journal_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute("INSERT INTO journal_head (id, seq, hash) VALUES (1, 0, '')")
    with op.batch_alter_table("journal") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("partner_id", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("decision", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("operator", sa.Text(), nullable=False, server_default=""))
        batch.create_unique_constraint("uq_journal_seq", ["seq"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    """Revert this revision (drops the partner tables and the chain columns)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS passerelle_partner_guard() CASCADE")
        op.execute("DROP FUNCTION IF EXISTS passerelle_no_truncate() CASCADE")
    with op.batch_alter_table("journal") as batch:
        batch.drop_constraint("uq_journal_seq", type_="unique")
        for column in ("operator", "decision", "partner_id", "hash", "prev_hash", "seq"):
            batch.drop_column(column)
    for table in ("journal_head", "certificates", "partner_events", "partner_identities", "partners"):
        op.drop_table(table)
