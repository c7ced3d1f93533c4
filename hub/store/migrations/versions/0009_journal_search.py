"""Indexes for the console's message browser: a journal of a million entries searched in milliseconds.

- ``control_id`` alone (the existing index leads with the sending application);
- ``(status, id)`` and ``(ack_code, id)``: a rare status or ACK code, newest first, without a scan;
- ``at``: a date range.

Each costs every journal write a little: benchmarks.md weighs it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_journal_control_id": ["control_id"],
    "ix_journal_status_id": ["status", "id"],
    "ix_journal_ack_code_id": ["ack_code", "id"],
    "ix_journal_at": ["at"],
}


def upgrade() -> None:
    """Apply this revision."""
    for name, columns in INDEXES.items():
        op.create_index(name, "journal", columns)


def downgrade() -> None:
    """Revert this revision."""
    for name in INDEXES:
        op.drop_index(name, "journal")
