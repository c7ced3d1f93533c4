"""The records a mapping builds take exactly their fields: names, order and defaults.

Some write their own ``__init__`` (compiled by mypyc, where the generated one stays
interpreted: mappings/records.py); these tests hold every record to what `dataclass` would
have generated, so a field added without its parameter, or a default that drifts, fails here.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path
from typing import Any

import pytest

import mappings
from mappings import records

RECORDS = [
    cls for _name, cls in inspect.getmembers(records, inspect.isclass)
    if dataclasses.is_dataclass(cls) and cls.__module__ == records.__name__
]  # fmt: skip


# Each field's annotation as written: a compiled class keeps only erased types (`float | None` is `type`).
ANNOTATIONS = {
    (cls.name, node.target.id): ast.unparse(node.annotation)
    for cls in ast.parse((Path(mappings.__file__).parent / "records.py").read_text(encoding="utf-8")).body
    if isinstance(cls, ast.ClassDef)
    for node in cls.body
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
}


def _marker(cls: type, f: dataclasses.Field[Any], i: int) -> object:
    """A value of the field's type (compiled classes check it), distinct per field: a swapped pair shows."""
    kind = ANNOTATIONS[cls.__name__, f.name]
    if kind.startswith("tuple["):
        return (f"<{f.name} {i}>",)
    by_type: dict[str, object] = {
        "int": 1000 + i,
        "bool": True,
        "float | None": i + 0.5,
        "bytes": f.name.encode(),
        "str | None": f"<{f.name} {i}>",
        "Patient": records.Patient((), f"<family {i}>", "", None, "", ""),
    }
    return by_type.get(kind, f"<{f.name} {i}>")


def test_the_written_inits_are_there() -> None:
    """The hot records do write their own: without them the cost in this file's docstring comes back."""
    written = {cls.__name__ for cls in RECORDS if not cls.__dataclass_params__.init}  # type: ignore[attr-defined]
    assert {"Identifier", "Patient", "Observation", "LabOrder", "Provider", "Mapped"} <= written


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_a_record_takes_its_fields_by_name_and_in_order(cls: type) -> None:
    """Every field by keyword, then every field by position: each lands in its own attribute."""
    fields = dataclasses.fields(cls)
    values = {f.name: _marker(cls, f, i) for i, f in enumerate(fields)}
    by_name = cls(**values)
    by_position = cls(*values.values())
    for f in fields:
        assert getattr(by_name, f.name) == values[f.name]
        assert getattr(by_position, f.name) == values[f.name]
    assert by_name == by_position
    with pytest.raises(TypeError):
        cls(*values.values(), "one too many")


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_a_record_defaults_what_its_fields_default(cls: type) -> None:
    """Only the required fields given: the others hold their field's default, and nothing else is optional."""
    fields = dataclasses.fields(cls)
    required = {f.name: _marker(cls, f, i) for i, f in enumerate(fields) if _default(f) is dataclasses.MISSING}
    record = cls(**required)
    for f in fields:
        expected = required[f.name] if f.name in required else _default(f)
        assert getattr(record, f.name) == expected, f.name
    for name in required:
        with pytest.raises(TypeError):
            cls(**{k: v for k, v in required.items() if k != name})


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_replace_makes_a_changed_copy(cls: type) -> None:
    """`dataclasses.replace` (the exclusions use it) goes through the same ``__init__``."""
    fields = dataclasses.fields(cls)
    record = cls(**{f.name: _marker(cls, f, i) for i, f in enumerate(fields)})
    first = fields[0].name
    new = _marker(cls, fields[0], len(fields))
    changed = dataclasses.replace(record, **{first: new})
    assert getattr(changed, first) == new
    assert getattr(record, first) != new
    assert all(getattr(changed, f.name) == getattr(record, f.name) for f in fields[1:])


def _default(f: dataclasses.Field[Any]) -> object:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING
