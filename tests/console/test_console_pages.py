"""The console's other pages in-process: field names, patients, the live dashboard, certification campaigns."""

from __future__ import annotations

import re
from typing import Any

from console_world import PASSWORD, Browser, fill, make_console
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from certification.report import to_html
from certification.structure import field_names
from hub.console import Campaigns, Hooks
from hub.consult.audit import accesses
from hub.engine import certify
from hub.registers.operators import add
from hub.store.models import JournalEntry

HOOKS = Hooks(field_names=field_names, queue_depth=lambda: 7)


def _journal(engine: Engine) -> list[JournalEntry]:
    with Session(engine) as s:
        return list(s.scalars(select(JournalEntry).order_by(JournalEntry.seq)))


class World:
    """One console over the test's database, and a browser per operator signed in."""

    def __init__(self, engine: Engine, hooks: Hooks = HOOKS) -> None:
        self.engine = engine
        self.console, self.secrets = make_console(engine, hooks=hooks)

    def __call__(self, who: str) -> Browser:
        """A browser signed in as `who` (ana operator, vic viewer, tina tester)."""
        if who not in self.secrets:
            self.secrets[who] = add(self.engine, who, who.title(), "tester", password=PASSWORD, actor="t").totp_secret
        browser = Browser(self.console)
        browser.sign_in(who, self.secrets[who])
        return browser


def test_a_fields_position_and_name_show_on_hover(engine: Engine) -> None:
    """Each field's title is its position and the reference model's name; the partner and patient are links."""
    fill(engine)
    ana = World(engine)("ana")
    accepted = next(e for e in _journal(engine) if e.control_id == "M1")
    page = ana.request("GET", f"/messages/{accepted.id}").body.decode()
    assert 'title="OBX-11 Observation result status"' in page
    assert 'title="MSH-10 Message control id"' in page
    assert 'title="PID-5 Patient name"' in page
    assert f'href="/partners/{accepted.partner_id}"' in page and 'href="/patients/1"' in page


def test_an_err_location_is_explained_with_the_fields_name(engine: Engine) -> None:
    """The refused attempt's location names the field (MSH-3: Sending application)."""
    fill(engine)
    ana = World(engine)("ana")
    refused = next(e for e in _journal(engine) if e.control_id == "M2")
    page = ana.request("GET", f"/messages/{refused.id}").body.decode()
    assert "MSH^1^3 — MSH segment 1, field 3 (Sending application)</td><td>207 Application internal error" in page


def test_messages_by_patient_identifier_are_an_access_the_patient_can_see(engine: Engine) -> None:
    """Searching by CHUM:P1 finds M1, is journaled per patient, and shows in the access list; viewers may not."""
    fill(engine)
    world = World(engine)
    ana = world("ana")
    page = ana.request("GET", "/messages", patient="CHUM:P1").body.decode()
    assert "M1" in page and "M2" not in page
    last = _journal(engine)[-1]
    assert (last.status, last.operator, last.patient_id) == ("access.console", "ana", 1)
    assert "M1" not in ana.request("GET", "/messages", patient="CHUM:NOBODY").body.decode()
    with Session(engine) as s:
        listed = accesses(s, [1])
    assert [(a["operator"], a["consulted"]) for a in listed] == [("ana", "console: patient")]
    assert world("vic").request("GET", "/messages", patient="CHUM:P1").status == 403


def test_a_patients_page_is_journaled_before_it_is_shown(engine: Engine) -> None:
    """/patients/1 lists the identifiers and messages, after an access.console entry; a viewer gets 403."""
    fill(engine)
    world = World(engine)
    ana = world("ana")
    page = ana.request("GET", "/patients/1").body.decode()
    assert "<td>CHUM</td><td>P1</td>" in page and "M1" in page
    assert (_journal(engine)[-1].status, _journal(engine)[-1].patient_id) == ("access.console", 1)
    assert ana.request("GET", "/patients/999").status == 404
    assert world("vic").request("GET", "/patients/1").status == 403


def test_the_dashboard_shows_the_queue_and_the_last_verification_and_updates_itself(engine: Engine) -> None:
    """The writer's queue depth and the last verification; ?live=1 is the board alone, for htmx; htmx is served."""
    fill(engine)
    ana = World(engine)("ana")
    page = ana.request("GET", "/").body.decode()
    assert '<strong id="queue">7</strong>' in page and "jamais / never" in page
    assert 'hx-get="/?live=1"' in page and '<script src="/htmx.min.js"' in page
    ana.request("POST", "/journal/verify", {"csrf": ana.csrf()})
    live = ana.request("GET", "/", live="1").body.decode()
    assert live.startswith('<section id="board"') and "<html" not in live
    assert re.search(r"Dernière vérification / last verification :\s+\S+ \S+ \(ana\) — ok", live)
    script = ana.request("GET", "/htmx.min.js")
    assert script.status == 200 and b"htmx" in script.body[:2000]
    anonymous = Browser(ana.console)
    assert anonymous.request("GET", "/", live="1").status == 401
    assert anonymous.request("GET", "/").status == 303


def _campaign_hooks() -> Hooks:
    campaigns = Campaigns(plans=certify.plan_names, listing=certify.list_campaigns, open=certify.open_campaign,
                          close=certify.close_campaign, progress=certify.progress, report_html=to_html)  # fmt: skip
    return Hooks(field_names=field_names, campaigns=campaigns)


def test_a_tester_opens_follows_and_closes_a_campaign(engine: Engine) -> None:
    """Open under a shipped plan, the scenarios listed (none played yet), closed as failed, the report served."""
    tina = World(engine, _campaign_hooks())("tina")
    listing = tina.request("GET", "/certification").body.decode()
    plan = re.findall(r"<option>([^<]+)</option>", listing)[0]
    form = {"csrf": tina.csrf(), "plan": plan, "vendor": "Acme", "product": "LabLink", "version": "3.1"}
    opened = tina.request("POST", "/certification/open", form)
    assert opened.status == 303
    campaign_page = dict(opened.headers)["Location"]
    page = tina.request("GET", campaign_page).body.decode()
    assert 'id="status">open' in page and "en attente / pending" in page and "LabLink 3.1" in page
    assert _journal(engine)[-1].status == "console.campaign"
    closed = tina.request("POST", f"{campaign_page}/close", {"csrf": tina.csrf()})
    assert closed.status == 303
    page = tina.request("GET", campaign_page).body.decode()
    assert 'id="status">closed' in page and "échouée / failed" in page
    report = tina.request("GET", f"{campaign_page}/report").body.decode()
    assert "LabLink" in report and "<html" in report.lower()
    assert [e.status for e in _journal(engine)][-2:] == ["certification.failed", "console.campaign"]


def test_campaigns_refuse_an_unknown_plan_and_other_roles(engine: Engine) -> None:
    """A plan outside the shipped ones (a path, say) is 400; a viewer gets 403."""
    world = World(engine, _campaign_hooks())
    tina = world("tina")
    form = {"csrf": tina.csrf(), "plan": "/etc/passwd", "vendor": "A", "product": "B", "version": "1"}
    assert tina.request("POST", "/certification/open", form).status == 400
    assert world("vic").request("GET", "/certification").status == 403


def test_a_tls_attempt_is_journaled_and_replayed_with_the_certificate_it_presented(engine: Engine) -> None:
    """The journal keeps the fingerprint (chained); a reprocess runs the attempt with it, not as plaintext."""
    from datetime import UTC, datetime

    from helpers import lab_message
    from lab_engine import registered_intake

    from hub.console.actions import attempt_bytes, replay
    from hub.governance.journal import verify
    from hub.interfaces import Inbound

    intake = registered_intake(engine)
    fingerprint = ":".join(["AB"] * 32)
    intake.handle(Inbound(lab_message("TLS-1"), "127.0.0.1", "lab", datetime.now(UTC), tls_fingerprint=fingerprint))
    entry = _journal(engine)[-1]
    assert (entry.status, entry.decision) == ("refused", "unknown-certificate")
    assert fingerprint in entry.detail
    row, raw = attempt_bytes(engine, entry.id)
    assert raw is not None
    assert replay(row, raw, "ana", datetime.now(UTC)).tls_fingerprint == fingerprint
    assert verify(engine)[0] is None


def test_a_bulk_reprocess_is_bounded_and_its_progress_survives_the_worker(engine: Engine, monkeypatch: Any) -> None:
    """Only attempts that kept their bytes, at most LIMIT; a job that stops moving reads as stalled; viewers 403."""
    from datetime import UTC, datetime, timedelta

    from hub.console import bulk, pages

    fill(engine)
    with engine.connect() as conn:
        ids, more = bulk.candidates(conn, pages.matching({}))
    assert len(ids) == 2 and not more  # M1 stored, M2 refused with its bytes
    monkeypatch.setattr(bulk, "LIMIT", 1)
    with engine.connect() as conn:
        one, more = bulk.candidates(conn, pages.matching({}))
    assert len(one) == 1 and more
    now = datetime.now(UTC)
    job = bulk.start(engine, ids, "ana", now)
    assert bulk.progress(engine, job, now + timedelta(seconds=5))["state"] == "running"  # type: ignore[index]
    assert bulk.progress(engine, job, now + timedelta(minutes=2))["state"] == "stalled"  # type: ignore[index]
    world = World(engine)
    assert world("vic").request("GET", "/messages/bulk", status="refused").status == 403
    page = world("ana").request("GET", "/messages/bulk", status="refused").body.decode()
    assert '<strong id="count">1</strong>' in page
