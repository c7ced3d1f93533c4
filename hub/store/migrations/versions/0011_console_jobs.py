"""The console's bulk jobs, and the journal by message for a patient's search.

- ``console_jobs``: a reprocess of a search result, its progress readable from any worker;
- ``ix_journal_message_id``: the entries of a message (its page) and of a patient's messages
  (the browser's patient filter) without a scan of the journal.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "console_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, primary_key=True),
        sa.Column("operator", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("entries", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("outcomes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_journal_message_id", "journal", ["message_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_journal_message_id", "journal")
    op.drop_table("console_jobs")
