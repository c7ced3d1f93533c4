"""Run a vendor's recorded traffic through the pipeline for a campaign; nothing is stored clinically."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from certification.campaign import CampaignResult, Judged, TestPlan
from certification.ruleset import load_ruleset
from hub.engine.campaigns import campaign_messages, campaigns
from hub.engine.entries import issue_from_json
from hub.engine.outcome import Status
from hub.engine.pipeline import Pipeline
from hub.engine.policy import ChannelPolicy
from hub.governance.directory import PartnerDirectory, Ruling
from hub.governance.journal import ChainWriter
from hub.governance.partners import issue_certificate
from hub.hl7 import HL7Error, Message, decode, parse
from hub.hl7.files import split_messages
from hub.interfaces import Inbound
from hub.store.models import Certificate

ANSWERS = {Status.ACCEPTED: "AA", Status.FILTERED: "AA", Status.ERROR: "AE", Status.CONFLICT: "AE"}


class CampaignDirectory(PartnerDirectory):
    """Certification traffic comes from the product under test, not from a registered partner."""

    def authorize(
        self,
        application: str,
        facility: str,
        fingerprint: str,
        channel: str,
        domain: str,
        *,
        certification: bool = False,
    ) -> Ruling:
        """Every sender is the vendor under test."""
        return Ruling(True, "campaign", "")


def campaign_pipeline(plan: TestPlan) -> Pipeline:
    """A certification channel: T traffic, the plan's rule set."""
    policy = ChannelPolicy(
        name="certification",
        domain=load_ruleset(plan.ruleset).domain,
        processing_ids=frozenset({"T"}),
        ruleset=load_ruleset(plan.ruleset),
        certification=True,
    )
    return Pipeline(channels={"certification": policy}, directory=CampaignDirectory())


def judge_files(plan: TestPlan, files: list[Path]) -> Iterator[Judged]:
    """The hub's verdict on every message of every file (no database is touched)."""
    pipeline = campaign_pipeline(plan)
    for path in files:
        for n, raw in enumerate(split_messages(path.read_bytes()), start=1):
            source = f"{path.name}#{n}"
            prepared = pipeline.prepare(Inbound(raw, "campaign", "certification", datetime.now(UTC)))
            try:
                text = decode(raw).text
                msg = parse(text)
            except HL7Error:
                text, msg = raw.decode("latin-1"), None
            keys = tuple(getattr(r, "key", "") for r in prepared.mapped.records()) if prepared.mapped else ()
            yield Judged(
                source=source,
                control_id=prepared.header.control_id if prepared.header else "",
                answer=ANSWERS.get(prepared.status, "AR"),
                issues=prepared.issues,
                message=msg,
                raw_text=text,
                non_ascii=not raw.isascii(),
                order_keys=keys,
            )


def certify(engine: Engine, result: CampaignResult) -> int | None:
    """Issue the certificate when every scenario passed; its id, or None."""
    if not result.passed:
        return None
    now = datetime.now(UTC)
    return issue_certificate(
        engine,
        (result.product, result.version),
        (result.plan.id, result.plan.version),
        (now, now + timedelta(days=result.plan.validity_days)),
        operator=f"campaign:{result.vendor}",
    )


def open_campaign(engine: Engine, plan: str, who: tuple[str, str, str]) -> int:
    """Open a campaign: live traffic from the product version lands in it until it is closed.

    Raises:
        ValueError: no such plan, or a campaign is already open for this product version.
    """
    from certification.campaign import load_plan

    vendor, product, version = who
    if not all(part.strip() for part in who):
        raise ValueError("vendor, product and version are required")
    try:
        load_plan(plan)
    except FileNotFoundError as exc:
        raise ValueError(str(exc)) from exc
    with engine.begin() as conn:
        if conn.execute(
            select(campaigns.c.id).where(
                campaigns.c.product == product, campaigns.c.version == version, campaigns.c.status == "open"
            )
        ).first():
            raise ValueError(f"a campaign is already open for {product} {version}")
        row = {"plan": plan, "vendor": vendor, "product": product, "version": version, "status": "open"}
        campaign_id = conn.execute(
            insert(campaigns).returning(campaigns.c.id), {**row, "opened_at": datetime.now(UTC)}
        ).scalar_one()
    return int(campaign_id)


def plan_names() -> list[str]:
    """The test plans shipped in certification/plans/, by name."""
    from certification.campaign import PLANS

    return sorted(p.stem for p in PLANS.glob("*.yaml"))


def list_campaigns(engine: Engine) -> list[dict[str, Any]]:
    """Every campaign, newest first, with how many messages it received."""
    counts = (
        select(campaign_messages.c.campaign_id, func.count().label("n"))
        .group_by(campaign_messages.c.campaign_id)
        .subquery()
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(campaigns, counts.c.n).outerjoin(counts, counts.c.campaign_id == campaigns.c.id)
            .order_by(campaigns.c.id.desc())
        ).all()  # fmt: skip
    return [dict(r._mapping) | {"messages": r.n or 0} for r in rows]


def judge_campaign(engine: Engine, campaign_id: int) -> tuple[Any, CampaignResult]:
    """(the campaign, its traffic judged against its plan now): a closed one's report, an open one's progress.

    Raises:
        ValueError: no such campaign.
    """
    from certification.campaign import load_plan, run_campaign

    with engine.connect() as conn:
        campaign = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
        if campaign is None:
            raise ValueError(f"no campaign {campaign_id}")
        rows = conn.execute(
            select(campaign_messages)
            .where(campaign_messages.c.campaign_id == campaign_id)
            .order_by(campaign_messages.c.id)
        ).all()
    judged = [_judged(f"live#{n}", r) for n, r in enumerate(rows, start=1)]
    who = (campaign.vendor, campaign.product, campaign.version)
    return campaign, run_campaign(load_plan(campaign.plan), judged, who)


def progress(engine: Engine, campaign_id: int) -> CampaignResult:
    """The campaign's traffic so far, judged without closing it."""
    return judge_campaign(engine, campaign_id)[1]


def close_campaign(engine: Engine, campaign_id: int) -> CampaignResult:
    """Judge the campaign's live traffic against its plan, close it, journal it, certify on success."""
    campaign, result = judge_campaign(engine, campaign_id)
    if campaign.status != "open":
        raise ValueError(f"no open campaign {campaign_id}")
    with engine.begin() as conn:
        conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id)
            .values(status="closed", passed=result.passed, closed_at=datetime.now(UTC))
        )
    journal_run(engine, result)
    certify(engine, result)
    return result


def _judged(source: str, row: Any) -> Judged:
    raw: bytes = row.raw
    try:
        text = decode(raw).text
        msg: Message | None = parse(text)
    except HL7Error:
        text, msg = raw.decode("latin-1"), None
    issues = tuple(issue_from_json(i) for i in json.loads(row.issues))
    keys = tuple(json.loads(row.order_keys))
    return Judged(source, row.control_id, row.answer, issues, msg, text, not raw.isascii(), keys)


def journal_run(engine: Engine, result: CampaignResult) -> None:
    """A campaign's outcome is a certification result: chained in the journal."""
    failed = [s.scenario.id for s in result.scenarios if not s.passed]
    with engine.begin() as conn:
        chain = ChainWriter(conn)
        chain.append(
            {
                "at": datetime.now(UTC),
                "status": "certification.passed" if result.passed else "certification.failed",
                "operator": f"campaign:{result.vendor}",
                "reason": f"{result.product} {result.version} under {result.plan.name}"
                + (f"; failed: {', '.join(failed)}" if failed else ""),
            }
        )
        chain.close()


def list_certificates(engine: Engine) -> list[dict[str, str]]:
    """Every certificate, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(Certificate).order_by(Certificate.id.desc())).all()
    return [
        {
            "id": str(r.id),
            "product": r.product_name,
            "version": r.product_version,
            "plan": f"{r.plan}-{r.plan_version}",
            "issued": r.issued_at.date().isoformat(),
            "expires": r.expires_at.date().isoformat(),
        }
        for r in rows
    ]
