"""Certification traffic inside the writer's transaction: into the open campaign, never clinical."""

from __future__ import annotations

import json
from typing import cast

from sqlalchemy import Connection, Table, bindparam, insert, select

from hub.hl7 import Code, Issue, Location
from hub.store.models import Campaign, CampaignMessage

from .acks import Acknowledger
from .entries import issue_to_json
from .outcome import Prepared, Status

campaigns = cast(Table, Campaign.__table__)
campaign_messages = cast(Table, CampaignMessage.__table__)

_OPEN_CAMPAIGN = select(campaigns.c.id).where(
    campaigns.c.product == bindparam("product"),
    campaigns.c.version == bindparam("version"),
    campaigns.c.status == "open",
)
NO_CAMPAIGN = Issue(
    Code.INTERNAL_ERROR,
    Location("MSH", 1),
    "aucune campagne ouverte pour ce produit",
    "no open campaign for this product version",
)


def record_campaign_message(conn: Connection, p: Prepared, acks: Acknowledger) -> tuple[Prepared, Status]:
    """Keep one certification message in its product's open campaign; AR when none is open."""
    product, version = p.campaign_product or ("", "")
    campaign_id = conn.execute(_OPEN_CAMPAIGN, {"product": product, "version": version}).scalar()
    if campaign_id is None:
        return acks.refused(p, Status.REJECTED, (NO_CAMPAIGN,)), Status.REJECTED
    answer = "AA" if p.status is Status.ACCEPTED else "AE"
    keys = [getattr(r, "key", "") for r in p.mapped.records()] if p.mapped else []
    conn.execute(
        insert(campaign_messages),
        {
            "campaign_id": campaign_id,
            "received_at": p.inbound.received_at,
            "control_id": p.header.control_id if p.header else "",
            "raw": p.inbound.raw,
            "answer": answer,
            "issues": json.dumps([issue_to_json(i) for i in p.issues], ensure_ascii=False),
            "order_keys": json.dumps(keys, ensure_ascii=False),
        },
    )
    return p, Status.CERTIFICATION
