"""Import the project's modules from their .py sources even where mypyc built them (setup.py).

Used where the compiled modules would hide something: atheris instruments Python bytecode, and
the parity test compares the pure and compiled builds over every sample.
"""

from __future__ import annotations

import sys
from importlib import machinery
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])


def _source_first(path: str) -> machinery.FileFinder:
    if not path.startswith(ROOT):
        raise ImportError(path)  # not the project's: the next path hook
    return machinery.FileFinder(
        path,
        (machinery.SourceFileLoader, machinery.SOURCE_SUFFIXES),
        (machinery.ExtensionFileLoader, machinery.EXTENSION_SUFFIXES),
    )


def prefer_sources() -> None:
    """From now on, the project's modules load from source (call before importing them)."""
    sys.path_hooks.insert(0, _source_first)
    sys.path_importer_cache.clear()
