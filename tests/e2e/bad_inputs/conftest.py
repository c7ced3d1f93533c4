"""The bad-input rows share their module's real server (tests/conftest.py) and a fresh connection each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from raw_mllp import Conn
from servers import Server


@pytest.fixture
def conn(module_server: Server) -> Iterator[Conn]:
    """A fresh connection to the module's server."""
    c = Conn(module_server.port)
    yield c
    c.sock.close()
