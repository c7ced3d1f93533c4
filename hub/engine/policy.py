"""What the engine knows of a channel."""

from __future__ import annotations

from dataclasses import dataclass

from certification.ruleset import RuleSet
from mappings.exclusions import Exclusion


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """What the engine needs to know about the channel a frame came in on."""

    name: str
    domain: str
    default_charset: str = "utf-8"
    processing_ids: frozenset[str] = frozenset({"P"})
    max_segments: int = 10_000
    ruleset: RuleSet | None = None  # step 4: the certification rules this channel applies
    certification: bool = False  # a certification channel (MSH-11 T traffic inside a campaign)
    exclusions: tuple[Exclusion, ...] = ()  # categories not communicated: AA, journaled as filtered
    max_document_bytes: int = 8_388_608  # an OBX ED document, decoded
