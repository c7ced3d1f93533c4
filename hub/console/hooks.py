"""What the console reads from the layers above it, handed in by the engine when it builds the console.

The console sits below the engine and the certification package (the layer contract): the
reference model's field names, the writer's queue and the certification campaigns reach it as
plain callables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine


@dataclass(frozen=True, slots=True)
class Campaigns:
    """The certification campaigns, for the tester role."""

    plans: Callable[[], list[str]]  # the shipped plans' names: the only ones the console opens
    listing: Callable[[Engine], list[dict[str, Any]]]
    open: Callable[[Engine, str, tuple[str, str, str]], int]  # plan, (vendor, product, version) -> id
    close: Callable[[Engine, int], Any]  # -> the CampaignResult
    progress: Callable[[Engine, int], Any]  # the campaign's traffic judged now, without closing it
    report_html: Callable[[Any], str]


@dataclass(frozen=True, slots=True)
class Hooks:
    """Everything optional: a console built without them (the unit tests) shows less."""

    field_names: Callable[[str, str], tuple[str, ...]] = lambda _version, _segment: ()
    queue_depth: Callable[[], int] | None = None
    campaigns: Campaigns | None = None
