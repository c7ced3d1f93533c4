"""Consultation: the register of refusals, the signed requests seen, accesses in the journal.

- ``refusals`` and ``refusal_withdrawals`` (both append-only): a refusal is never deleted, only
  withdrawn, and a withdrawal is final.
- ``consult_tokens``: the ``jti`` of every signed request until it expires, so a replay is seen
  by every hub sharing the database.
- ``journal.patient_id`` and ``journal.detail``: an access names the patient consulted and holds
  who asked, for what purpose, what was asked and how much was released (no clinical value).
  ADD COLUMN on both backends: the journal's guard triggers stay as they are.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

APPEND_ONLY = ("refusals", "refusal_withdrawals")


def _text(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=False)


def _stamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False, primary_key=True)


def _guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION passerelle_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION passerelle_append_only()"
            )
        return
    for table in APPEND_ONLY:
        for op_name in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "refusals",
        _id(),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        _text("before"),
        sa.Column("means", sa.String(16), nullable=False),
        *(_text(n) for n in ("system", "reason", "operator")),
        _stamp("recorded_at"),
    )
    op.create_index("ix_refusals_patient_id", "refusals", ["patient_id"])
    op.create_table(
        "refusal_withdrawals",
        _id(),
        sa.Column("refusal_id", sa.Integer(), sa.ForeignKey("refusals.id"), nullable=False),
        _text("operator"),
        _text("reason"),
        _stamp("at"),
        sa.UniqueConstraint("refusal_id", name="uq_refusal_withdrawals_refusal_id"),
    )
    op.create_table(
        "consult_tokens",
        _id(),
        _text("partner_id"),
        _text("jti"),
        _stamp("expires_at"),
        sa.UniqueConstraint("partner_id", "jti", name="uq_consult_tokens_partner_id"),
    )
    op.create_index("ix_consult_tokens_expires_at", "consult_tokens", ["expires_at"])
    op.add_column("journal", sa.Column("patient_id", sa.Integer(), nullable=True))
    op.add_column("journal", sa.Column("detail", sa.Text(), nullable=False, server_default=""))
    op.create_index("ix_journal_patient_id", "journal", ["patient_id"])
    _guards()


def downgrade() -> None:
    """Revert this revision (the register of refusals is lost: refused if it holds any)."""
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM refusals")).scalar():
        raise RuntimeError("the register of refusals is not empty: it cannot be dropped")
    op.drop_index("ix_journal_patient_id", "journal")
    op.execute("ALTER TABLE journal DROP COLUMN detail")
    op.execute("ALTER TABLE journal DROP COLUMN patient_id")
    op.drop_table("consult_tokens")
    op.drop_table("refusal_withdrawals")
    op.drop_table("refusals")
