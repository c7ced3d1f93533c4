"""The audit export: an outbox of security events, and the lease of the one process that sends them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("seq", name="uq_audit_outbox_seq"),
    )
    op.create_index("ix_audit_outbox_sent_at", "audit_outbox", ["sent_at"])
    lease = op.create_table(
        "audit_lease",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
    )
    op.bulk_insert(lease, [{"id": 1, "holder": ""}])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("audit_lease")
    op.drop_table("audit_outbox")
