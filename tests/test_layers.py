"""The dependency directions of ARCHITECTURE.md, checked on the source's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "channels": {"hl7apy", "sqlalchemy", "hub.hl7", "hub.pipeline", "hub.store", "mappings", "certification"},
    "mappings": {"twisted", "sqlalchemy", "hub.pipeline", "hub.store", "hub.models", "channels"},
    "certification": {"twisted", "sqlalchemy", "hub.pipeline", "hub.store", "hub.models", "channels"},
    "hub/hl7": {"hub.pipeline", "hub.store", "hub.models", "hub.config", "mappings", "channels", "twisted"},
}


def imports(path: Path) -> set[str]:
    """Every module name imported by a file (absolute imports only)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_inward(package: str) -> None:
    """No module of a layer imports what ARCHITECTURE.md forbids it."""
    for path in (ROOT / package).rglob("*.py"):
        for name in imports(path):
            bad = [f for f in FORBIDDEN[package] if name == f or name.startswith(f + ".")]
            assert not bad, f"{path.relative_to(ROOT)} imports {name}"
