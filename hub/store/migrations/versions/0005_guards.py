"""Append-only journal and messages, the stored raw bytes chained, and one registry version.

- ``journal`` and ``messages`` refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), for every
  client of the database: what was received and what was done with it is never rewritten.
- ``journal.raw_sha256``: the SHA-256 of the raw bytes an entry keeps (a refused attempt's first
  64 KiB), covered by the entry's hash, so `journal verify` checks the stored bytes themselves.
- ``registry_version``: one row whose version every write to the partner registry bumps
  (partners, identities, events, certificates), by trigger: a running hub compares it, inside
  each transaction, with the version its partner directory was loaded at.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APPEND_ONLY = ("journal", "messages")
REGISTRY = ("partners", "partner_identities", "partner_events", "certificates")


def _sqlite() -> list[str]:
    statements = []
    for table in APPEND_ONLY:
        for op_name in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    for table in REGISTRY:
        for op_name in ("INSERT", "UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_bump_{op_name.lower()} AFTER {op_name} ON {table} "
                "BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END"
            )
    return statements


def _postgresql() -> list[str]:
    statements = [
        "CREATE OR REPLACE FUNCTION passerelle_append_only() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql",
        "CREATE OR REPLACE FUNCTION passerelle_registry_bump() RETURNS trigger AS $$ BEGIN "
        "UPDATE registry_version SET version = version + 1 WHERE id = 1; RETURN NULL; END $$ LANGUAGE plpgsql",
    ]
    for table in APPEND_ONLY:
        statements.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION passerelle_append_only()"
        )
        statements.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION passerelle_append_only()"
        )
    for table in REGISTRY:
        statements.append(
            f"CREATE TRIGGER {table}_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION passerelle_registry_bump()"
        )
    return statements


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("journal") as batch:
        batch.add_column(sa.Column("raw_sha256", sa.String(64), nullable=False, server_default=""))
    op.create_table(
        "registry_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.execute("INSERT INTO registry_version (id, version) VALUES (1, 1)")
    statements = _postgresql() if op.get_bind().dialect.name == "postgresql" else _sqlite()
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    """Revert this revision."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS passerelle_append_only() CASCADE")
        op.execute("DROP FUNCTION IF EXISTS passerelle_registry_bump() CASCADE")
    else:
        for table in APPEND_ONLY:
            for op_name in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op_name}")
        for table in REGISTRY:
            for op_name in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_bump_{op_name}")
    op.drop_table("registry_version")
    with op.batch_alter_table("journal") as batch:
        batch.drop_column("raw_sha256")
