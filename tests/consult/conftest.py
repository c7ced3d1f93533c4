"""The consultation world on the test's database (SQLite, and PostgreSQL when reachable)."""

from __future__ import annotations

import pytest
from consult_world import World, build_world
from consulting import Keys, ec_keys, rsa_keys
from sqlalchemy import Engine


@pytest.fixture(scope="session")
def clinic_keys() -> Keys:
    """The clinic system's EC key pair."""
    return ec_keys()


@pytest.fixture(scope="session")
def other_keys() -> Keys:
    """The other systems' RSA key pair (RS256)."""
    return rsa_keys()


@pytest.fixture
def world(engine: Engine, clinic_keys: Keys, other_keys: Keys) -> World:
    """Registers, intake and the consultation core on a fresh database."""
    return build_world(engine, clinic_keys, other_keys)
