"""Search parameters on a patient's resources: Observation by ``code`` and ``date``.

``code`` is ``system|code``, ``|code`` or ``code``; several values in one parameter (commas)
are alternatives. ``date`` takes the prefixes eq (the default), ne, lt, le, gt, ge on a day, a
month or a year; several ``date`` parameters must all hold (``date=ge2026-01-01&date=lt2026-02-01``).
"""

from __future__ import annotations

import re

from .items import Item
from .routes import Route
from .tokens import Denied

_DATE = re.compile(r"^(eq|ne|lt|le|gt|ge)?(\d{4}(?:-\d{2}(?:-\d{2})?)?)$")


def matching(route: Route, items: list[Item]) -> list[Item]:
    """The items that satisfy the route's search parameters (besides `patient`)."""
    codes = [_code(v) for value in route.param("code") for v in value.split(",")]
    dates = [_date(v) for v in route.param("date")]
    return [i for i in items if _has_code(i, codes) and all(_on(i, d) for d in dates)]


def _code(value: str) -> tuple[str | None, str]:
    system, sep, code = value.partition("|")
    if not sep:
        return None, value
    return system, code


def _date(value: str) -> tuple[str, str]:
    m = _DATE.match(value.strip())
    if not m:
        raise Denied(400, "bad-parameter", "date attendue AAAA[-MM[-JJ]] / date must be [prefix]YYYY[-MM[-DD]]")
    return m.group(1) or "eq", m.group(2)


def _has_code(item: Item, codes: list[tuple[str | None, str]]) -> bool:
    if not codes:
        return True
    held = [(c.get("system", ""), c.get("code", "")) for c in item.current.get("code", {}).get("coding", [])]
    return any(code == c and (system is None or system in ("", s)) for system, code in codes for s, c in held)


def _on(item: Item, test: tuple[str, str]) -> bool:
    prefix, target = test
    effective: str = item.current.get("effectiveDateTime") or item.current.get("issued") or ""
    if not effective:
        return False
    value = str(effective)[: len(target)]
    return {
        "eq": value == target,
        "ne": value != target,
        "lt": value < target,
        "le": value <= target,
        "gt": value > target,
        "ge": value >= target,
    }[prefix]
