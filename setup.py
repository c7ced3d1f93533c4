"""Build hook: compile the per-message hot path with mypyc (the rest stays pure Python).

The parser model, the certification checks and the mappings are typed for `mypy --strict`;
mypyc turns those modules into C extensions with the same behaviour (preparing one 2 KB ORU:
431 -> 270 µs in-process; the writer's rows and journal: 7% of a batch's commit; docs/design.md).
``PASSERELLE_PURE=1`` installs them as plain Python, which is also what runs wherever a compiled
module is missing.
"""

from __future__ import annotations

import os

from setuptools import setup

# Modules on the path of every message: no pydantic models, no monkeypatched names, no class
# that other code subclasses (an interpreted class cannot inherit from a compiled one). The
# writer's row building (driver, rows, records, patients, journal, entries) is among them; the
# engine around it (pipeline, writer, intake) gained too little to be worth it (docs/design.md).
HOT = [
    "hub/hl7/charsets.py",
    "hub/hl7/delimiters.py",
    "hub/hl7/dtm.py",
    "hub/hl7/escape.py",
    "hub/hl7/header.py",
    "hub/hl7/message.py",
    "hub/hl7/parser.py",
    "hub/hl7/ack.py",
    "certification/structure.py",
    "certification/conformance.py",
    "certification/context.py",
    "certification/identity.py",
    "certification/lab_rules.py",
    "certification/rules.py",
    "certification/constraints.py",
    "mappings/common.py",
    "mappings/patient.py",
    "mappings/lab.py",
    "mappings/pharmacy.py",
    "mappings/imaging.py",
    "mappings/exclusions.py",
    "mappings/records.py",
    "mappings/providers.py",
    "hub/store/driver.py",
    "hub/store/rows.py",
    "hub/store/records.py",
    "hub/store/patients.py",
    "hub/governance/journal.py",
    "hub/engine/entries.py",
]


def ext_modules() -> list[object]:
    """The compiled modules, or none when ``PASSERELLE_PURE`` is set."""
    if os.environ.get("PASSERELLE_PURE"):
        return []
    from mypyc.build import mypycify

    # The project's [tool.mypy] names a pydantic plugin the build environment does not have.
    return list(mypycify(["--config-file", "mypyc.ini", *HOT], opt_level="3"))


setup(ext_modules=ext_modules())
