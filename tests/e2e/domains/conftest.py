"""The hub the domain tests share: a pharmacy channel and an imaging channel (one per test)."""

from __future__ import annotations

import pytest
from domain_hub import DomainHub, start_domain_hub
from servers import ServerFactory, free_port


@pytest.fixture
def hub(server_factory: ServerFactory, db_url: str) -> DomainHub:
    """A hub with a pharmacy channel (its main port) and an imaging channel (`hub.imaging_port`)."""
    return start_domain_hub(server_factory, db_url, free_port())
