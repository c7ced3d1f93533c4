"""Run a vendor's recorded traffic through the pipeline for a campaign; nothing is stored clinically."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from certification.campaign import CampaignResult, Judged, TestPlan
from certification.ruleset import load_ruleset
from hub.hl7 import HL7Error, decode, parse

from .client import split_messages
from .directory import PartnerDirectory, Ruling
from .interfaces import Inbound, Status
from .journal import ChainWriter
from .models import Certificate
from .partners import issue_certificate
from .pipeline import ChannelPolicy, Pipeline

ANSWERS = {Status.ACCEPTED: "AA", Status.ERROR: "AE", Status.CONFLICT: "AE"}


class CampaignDirectory(PartnerDirectory):
    """Certification traffic comes from the product under test, not from a registered partner."""

    def authorize(self, application: str, facility: str, fingerprint: str, channel: str, domain: str) -> Ruling:
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
            keys = tuple(o.key for o in prepared.mapped.lab_orders) if prepared.mapped else ()
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
