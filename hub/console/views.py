"""The console's pages beyond the core ones: patients, bulk reprocess, certification campaigns.

Each handler takes the console, the request and the session, and answers a `WebReply`, or None
when the path is not its own.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.governance.journal import ChainWriter
from hub.interfaces import WebReply, WebRequest
from hub.store.queries import audit_waiting

from . import bulk, pages, patients
from .sessions import Session

if TYPE_CHECKING:
    from .app import Console

PATIENT_ROLES = frozenset({"operator", "admin", "privacy"})  # who may open a patient's page
BULK_ROLES = frozenset({"operator", "admin"})
TESTER_ROLES = frozenset({"tester", "admin"})


def journal_access(console: Console, session: Session, patient_ids: list[int], reason: str) -> None:
    """An operator's view of patients' data, journaled (one entry per patient) before it is shown."""
    with console.engine.begin() as conn:
        chain = ChainWriter(conn)
        for pid in patient_ids:
            chain.append({"at": console.clock(), "status": "access.console", "operator": session.operator_id,
                          "patient_id": pid, "reason": f"patient {pid}: {reason}", "sha256": "",
                          "size": 0})  # fmt: skip
        chain.close()


def journal_action(console: Console, session: Session, status: str, reason: str, detail: dict[str, Any]) -> None:
    """An operator's action, journaled with them."""
    with console.engine.begin() as conn:
        chain = ChainWriter(conn)
        chain.append({"at": console.clock(), "status": status, "operator": session.operator_id, "reason": reason,
                      "detail": json.dumps(detail, sort_keys=True), "sha256": "", "size": 0})  # fmt: skip
        chain.close()


def patient_page(console: Console, session: Session, patient_id: int) -> WebReply:
    """/patients/<id>: identifiers and stored messages; an access, journaled first."""
    if session.role not in PATIENT_ROLES:
        return console.refuse(session, "réservé aux opérateurs / operators only")
    with console.engine.connect() as conn:
        found = patients.page(conn, patient_id)
    if found is None:
        return console.not_found(session)
    journal_access(console, session, [patient_id], "patient page shown in the console")
    return WebReply(200, console.render("patient.html", session, patient=found))


def filters_of(request: WebRequest) -> dict[str, str]:
    """The browser's filters from the query (or a form), blanks included."""
    given = dict(request.query) | dict(request.form)
    return {k: given.get(k, "").strip() for k in pages.FILTERS}


def patient_filter(console: Console, session: Session, filters: dict[str, str]) -> list[int] | WebReply | None:
    """The patients a search names (journaled as accesses), None without the filter, or a refusal."""
    if not filters["patient"]:
        return None
    if session.role not in BULK_ROLES:
        return console.refuse(session, "recherche par usager réservée aux opérateurs / patient search: operators only")
    with console.engine.connect() as conn:
        found = patients.find(conn, filters["patient"])
    journal_access(console, session, found, "messages searched by patient identifier in the console")
    return found


def bulk_page(console: Console, request: WebRequest, session: Session) -> WebReply:
    """GET: the confirmation (how many, bounded); POST: the job starts and its progress page opens."""
    if session.role not in BULK_ROLES or (request.method == "POST" and console.intake is None):
        return console.refuse(session, "réservé aux opérateurs / operators only")
    filters = filters_of(request)
    chosen = patient_filter(console, session, filters)
    if isinstance(chosen, WebReply):
        return chosen
    try:
        query = pages.matching(filters, chosen)
    except ValueError:
        return WebReply(400, console.render("error.html", session, message="Date invalide / invalid date"))
    with console.engine.connect() as conn:
        ids, more = bulk.candidates(conn, query)
    if request.method == "GET":
        return WebReply(200, console.render("bulk.html", session, filters=filters, count=len(ids), more=more,
                                            limit=bulk.LIMIT))  # fmt: skip
    if not ids or console.intake is None:
        return WebReply(400, console.render("error.html", session, message="Rien à retraiter / nothing to reprocess"))
    job_id = bulk.start(console.engine, ids, session.operator_id, console.clock())
    journal_action(console, session, "console.bulk", f"bulk reprocess of {len(ids)} attempts (job {job_id})",
                   {"job": job_id, "filters": {k: v for k, v in filters.items() if v}})  # fmt: skip
    console.pool.callInThread(bulk.run, console.engine, console.intake, console.reactor, job_id, console.clock)
    return WebReply(303, b"", headers=(("Location", f"/jobs/{job_id}"),))


def job_page(console: Console, request: WebRequest, session: Session, job_id: int) -> WebReply:
    """/jobs/<id>: the progress of a bulk reprocess (the fragment alone for the live update)."""
    job = bulk.progress(console.engine, job_id, console.clock())
    if job is None:
        return console.not_found(session)
    live = dict(request.query).get("live") == "1"
    return WebReply(200, console.render("_job.html" if live else "job.html", session, job=job))


def certification(console: Console, request: WebRequest, session: Session, parts: list[str]) -> WebReply | None:
    """/certification…: campaigns listed, opened, followed scenario by scenario, closed, reported."""
    if parts[0] != "certification":
        return None
    hooks = console.hooks.campaigns
    if session.role not in TESTER_ROLES or hooks is None:
        return console.refuse(session, "réservé aux testeurs / testers only")
    try:
        if parts == ["certification"] and request.method == "GET":
            rows = hooks.listing(console.engine)
            return WebReply(200, console.render("campaigns.html", session, campaigns=rows, plans=hooks.plans()))
        if parts == ["certification", "open"] and request.method == "POST":
            form = dict(request.form)
            plan = form.get("plan", "")
            if plan not in hooks.plans():
                raise ValueError("plan inconnu / unknown plan")
            who = (form.get("vendor", "").strip(), form.get("product", "").strip(), form.get("version", "").strip())
            campaign_id = hooks.open(console.engine, plan, who)
            journal_action(console, session, "console.campaign", f"campaign {campaign_id} opened under {plan}",
                           {"campaign": campaign_id, "action": "open"})  # fmt: skip
            return WebReply(303, b"", headers=(("Location", f"/certification/{campaign_id}"),))
        if len(parts) >= 2 and parts[1].isdigit():
            return _campaign(console, request, session, int(parts[1]), parts[2:])
    except ValueError as exc:
        return WebReply(400, console.render("error.html", session, message=str(exc)))
    return console.not_found(session)


def _campaign(console: Console, request: WebRequest, session: Session, campaign_id: int, rest: list[str]) -> WebReply:
    hooks = console.hooks.campaigns
    assert hooks is not None
    if rest == ["close"] and request.method == "POST":
        hooks.close(console.engine, campaign_id)
        journal_action(console, session, "console.campaign", f"campaign {campaign_id} closed",
                       {"campaign": campaign_id, "action": "close"})  # fmt: skip
        return WebReply(303, b"", headers=(("Location", f"/certification/{campaign_id}"),))
    result = hooks.progress(console.engine, campaign_id)
    if rest == ["report"]:
        return WebReply(200, hooks.report_html(result).encode("utf-8"))
    campaign = next((c for c in hooks.listing(console.engine) if c["id"] == campaign_id), None)
    return WebReply(200, console.render("campaign.html", session, campaign=campaign, result=result))


def dashboard_extras(console: Console, now: datetime) -> dict[str, Any]:
    """The writer's queue in this process, and what waits for the audit collector."""
    depth = console.hooks.queue_depth() if console.hooks.queue_depth is not None else None
    with console.engine.connect() as conn:
        waiting = audit_waiting(conn)
    return {"queue_depth": depth, "audit_waiting": waiting, "now": now.isoformat(timespec="seconds")}
