"""The console: operators, their history (append-only), and sessions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _stamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "operators",
        sa.Column("id", sa.String(64), primary_key=True),
        *(sa.Column(n, sa.Text(), nullable=False) for n in ("name", "password_hash", "totp_secret")),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        _stamp("created_at"),
    )
    op.create_table(
        "operator_events",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("operator_id", sa.String(64), sa.ForeignKey("operators.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _stamp("at"),
    )
    op.create_index("ix_operator_events_operator_id", "operator_events", ["operator_id"])
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("operator_id", sa.String(64), sa.ForeignKey("operators.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        _stamp("created_at"),
        _stamp("last_seen"),
    )
    op.create_index("ix_console_sessions_operator_id", "console_sessions", ["operator_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER operator_events_append_only BEFORE UPDATE OR DELETE ON operator_events "
            "FOR EACH ROW EXECUTE FUNCTION passerelle_append_only()"
        )
    else:
        for name in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER operator_events_no_{name.lower()} BEFORE {name} ON operator_events "
                "BEGIN SELECT RAISE(ABORT, 'operator_events is append-only'); END"
            )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("console_sessions")
    op.drop_table("operator_events")
    op.drop_table("operators")
