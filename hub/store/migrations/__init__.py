"""Alembic migrations of the repository schema."""
