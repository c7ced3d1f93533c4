"""The console's routes: sign-in, the dashboard, the message browser, one message.

Every page but ``/login`` needs a live session (else a redirect to ``/login``); every POST needs
its CSRF token (else 403). Pages are Jinja2 templates with autoescaping on. Opening a message's
body is an access to patient data: journaled, naming the operator and the patient, before the
page is built; the viewer role never gets a body.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from hub.governance.journal import ChainWriter
from hub.governance.limiter import RefusalLimiter
from hub.governance.partners import RegistryError, history, list_partners
from hub.interfaces import MessageHandler, WebReply, WebRequest

from . import actions, oversight, pages, sessions, views
from .hooks import Hooks
from .oversight import Privacy

log = structlog.get_logger("passerelle.console")
LOGIN_CSRF = "passerelle_login"
STYLE = (Path(__file__).parent / "templates" / "console.css").read_bytes()
HTMX = (Path(__file__).parent / "static" / "htmx-2.0.4.min.js").read_bytes()  # 0BSD, static/htmx-LICENSE.txt
BODY_ROLES = frozenset({"operator", "admin"})  # who may open a message's raw bytes


class Console:
    """Implements `hub.interfaces.ConsoleHandler`; each request runs on the console's own thread pool."""

    def __init__(
        self,
        engine: Engine,
        limiter: RefusalLimiter,
        reactor: Any,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        intake: MessageHandler | None = None,
        privacy: Privacy | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.engine = engine
        self.hooks = hooks or Hooks()
        self.intake = intake
        self.privacy = privacy
        self.limiter = limiter
        self.reactor = reactor
        self.clock = clock
        self.pool = ThreadPool(minthreads=1, maxthreads=4, name="console")
        self.templates = Environment(loader=PackageLoader("hub.console", "templates"), autoescape=select_autoescape())

    def start(self) -> None:
        """Start the pool (stopped with the reactor)."""
        self.pool.start()
        self.reactor.addSystemEventTrigger("during", "shutdown", self.pool.stop)

    def blocked(self, peer: str) -> bool:
        """True while the peer is rate-limited."""
        return self.limiter.blocked(peer)

    def page(self, request: WebRequest) -> Deferred[WebReply]:
        """Answer off the reactor thread; a failure is a 500 page without a trace."""
        return deferToThreadPool(self.reactor, self.pool, self._safe, request)

    def _safe(self, request: WebRequest) -> WebReply:
        try:
            return self.answer(request)
        except Exception as exc:
            log.error("console_failed", channel=request.channel, error=type(exc).__name__)
            return WebReply(500, self.render("error.html", None, message="Erreur interne / internal error"))

    def answer(self, request: WebRequest) -> WebReply:
        """One request, synchronously (the tests call it directly)."""
        cookies = dict(request.cookies)
        if request.path == "/login":
            return self._login(request, cookies)
        if request.path == "/console.css":
            return WebReply(200, STYLE, content_type="text/css; charset=utf-8")
        if request.path == "/htmx.min.js":
            return WebReply(200, HTMX, content_type="text/javascript; charset=utf-8")
        if request.path == "/favicon.ico":
            return WebReply(404, b"", content_type="text/plain")
        now = self.clock()
        with self.engine.begin() as conn:
            session = sessions.current(conn, cookies.get(sessions.COOKIE), now)
        if session is None:
            if dict(request.query).get("live") == "1":  # a live update after the session ended: no swap
                return WebReply(401, b"", content_type="text/plain")
            return _redirect("/login")
        if request.method == "POST" and not secrets.compare_digest(dict(request.form).get("csrf", ""), session.csrf):
            return WebReply(403, self.render("error.html", session, message="Jeton CSRF absent / CSRF token missing"))
        if request.path == "/logout" and request.method == "POST":
            with self.engine.begin() as conn:
                sessions.end(conn, cookies[sessions.COOKIE], session.operator_id, now)
            return _redirect("/login", _cookie(sessions.COOKIE, "", request.secure, expire=True))
        handled = self._extra(request, session, request.path.strip("/").split("/"))
        if handled is not None:
            return handled
        if request.method == "POST":
            return self._post(request, session)
        return self._route(request, session)

    def _extra(self, request: WebRequest, session: sessions.Session, parts: list[str]) -> WebReply | None:
        """Patients, bulk reprocess and its jobs, certification (hub/console/views.py)."""
        if parts == ["messages", "bulk"]:
            return views.bulk_page(self, request, session)
        if len(parts) == 2 and parts[0] == "jobs" and parts[1].isdigit():
            return views.job_page(self, request, session, int(parts[1]))
        if len(parts) == 2 and parts[0] == "patients" and parts[1].isdigit() and request.method == "GET":
            return views.patient_page(self, session, int(parts[1]))
        return views.certification(self, request, session, parts)

    def _post(self, request: WebRequest, session: sessions.Session) -> WebReply:
        """The actions: a partner's state (admin), reprocessing an attempt (operator, admin)."""
        parts = request.path.strip("/").split("/")
        form = dict(request.form)
        try:
            if parts == ["journal", "verify"] and session.role in BODY_ROLES:
                result = oversight.verify_now(self.engine, session.operator_id)
                board = oversight.journal_page(self.engine)
                return WebReply(200, self.render("journal.html", session, board=board, result=result))
            if len(parts) == 3 and parts[0] == "partners" and parts[2] in actions.PARTNER_ACTIONS:
                if session.role != "admin":
                    return self.refuse(session, "réservé aux admins / admins only")
                actions.partner_action(self.engine, parts[1], parts[2], form, session.operator_id)
                return _redirect(f"/partners/{parts[1]}")
            if len(parts) == 3 and parts[0] == "messages" and parts[1].isdigit() and parts[2] == "reprocess":
                if session.role not in BODY_ROLES or self.intake is None:
                    return self.refuse(session, "réservé aux opérateurs / operators only")
                reply = actions.reprocess(
                    self.engine, self.intake, self.reactor, int(parts[1]), operator=session.operator_id
                )
                code = reply.code.value if reply is not None else "–"
                return WebReply(200, self.render("reprocessed.html", session, entry_id=parts[1], code=code))
        except RegistryError as exc:
            return WebReply(400, self.render("error.html", session, message=str(exc)))
        return WebReply(404, self.render("error.html", session, message="Page introuvable / page not found"))

    def refuse(self, session: sessions.Session, message: str) -> WebReply:
        """403, with why."""
        return WebReply(403, self.render("error.html", session, message=message))

    def not_found(self, session: sessions.Session) -> WebReply:
        """404."""
        return WebReply(404, self.render("error.html", session, message="Page introuvable / page not found"))

    def _route(self, request: WebRequest, session: sessions.Session) -> WebReply:
        if request.method not in ("GET", "HEAD"):
            return WebReply(405, self.render("error.html", session, message="Méthode refusée / method not allowed"))
        if request.path == "/":
            now = self.clock()
            with self.engine.connect() as conn:
                board = pages.dashboard(conn, now)
            board |= views.dashboard_extras(self, now)
            live = dict(request.query).get("live") == "1"  # htmx's update: the board alone
            return WebReply(200, self.render("_board.html" if live else "dashboard.html", session, board=board))
        if request.path == "/messages":
            return self._messages(request, session)
        parts = request.path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "messages" and parts[1].isdigit():
            if len(parts) == 3 and parts[2] == "reprocess":  # the confirmation step
                row, raw = actions.attempt_bytes(self.engine, int(parts[1]))
                return WebReply(200, self.render("reprocess.html", session, entry=row, kept=raw is not None))
            return self._message(int(parts[1]), session)
        if parts == ["journal"]:
            board = oversight.journal_page(self.engine)
            return WebReply(200, self.render("journal.html", session, board=board, result=None))
        if parts == ["privacy"]:
            if session.role != "privacy" or self.privacy is None:
                return self.refuse(session, "réservé au rôle vie privée / privacy role only")
            nam = dict(request.query).get("nam", "")
            view = oversight.privacy_page(self.engine, self.privacy, nam, session.operator_id)
            return WebReply(200, self.render("privacy.html", session, view=view))
        if parts == ["partners"]:
            return WebReply(200, self.render("partners.html", session, partners=list_partners(self.engine)))
        if len(parts) == 2 and parts[0] == "partners":
            found = [p for p in list_partners(self.engine) if p["id"] == parts[1]]
            if found:
                events = history(self.engine, parts[1])
                return WebReply(200, self.render("partner.html", session, partner=found[0], history=events))
        return WebReply(404, self.render("error.html", session, message="Page introuvable / page not found"))

    def _messages(self, request: WebRequest, session: sessions.Session) -> WebReply:
        query = dict(request.query)
        filters = views.filters_of(request)
        before = int(query["before"]) if query.get("before", "").isdigit() else None
        chosen = views.patient_filter(self, session, filters)
        if isinstance(chosen, WebReply):
            return chosen
        try:
            with self.engine.connect() as conn:
                rows, after = pages.search(conn, filters, before, chosen)
        except ValueError:
            return WebReply(400, self.render("error.html", session, message="Date invalide / invalid date"))
        return WebReply(200, self.render("messages.html", session, rows=rows, filters=filters, after=after))

    def _message(self, entry_id: int, session: sessions.Session) -> WebReply:
        with self.engine.begin() as conn:
            found = pages.entry(conn, entry_id)
            if found is None:
                return WebReply(404, self.render("error.html", session, message="Entrée introuvable / no such entry"))
            shows_body = session.role in BODY_ROLES and found["message"] is not None
            if shows_body:  # an access to patient data: journaled before the page is built
                chain = ChainWriter(conn)
                chain.append({
                    "at": self.clock(), "status": "access.message", "operator": session.operator_id,
                    "patient_id": found["message"].patient_id, "sha256": "", "size": 0,
                    "reason": f"message {found['message'].id} shown in the console", "message_id": None,
                })  # fmt: skip
                chain.close()
        body = found["message"].raw.decode(found["message"].charset or "utf-8", "replace") if shows_body else None
        segments = [s for s in (body or "").replace("\n", "\r").split("\r") if s]
        version = (found["message"].version if found["message"] is not None else "") or "2.5.1"
        names = {s[:3]: self.hooks.field_names(version, s[:3]) for s in segments}
        for err in found["errors"]:
            err["field"] = _field_name(self.hooks, version, err["location"])
        return WebReply(200, self.render("message.html", session, found=found, segments=segments, names=names))

    def _login(self, request: WebRequest, cookies: dict[str, str]) -> WebReply:
        if request.method == "GET":
            # The form's token is the cookie's while it lasts: a second GET (another tab, the
            # browser fetching an icon through the redirect) must not void the form in hand.
            token = cookies.get(LOGIN_CSRF) or secrets.token_urlsafe(24)
            body = self.render("login.html", None, csrf=token, error="")
            return WebReply(200, body, headers=(_cookie(LOGIN_CSRF, token, request.secure),))
        if request.method != "POST":
            return WebReply(405, self.render("error.html", None, message="Méthode refusée / method not allowed"))
        form = dict(request.form)
        expected = cookies.get(LOGIN_CSRF, "")
        if not expected or not secrets.compare_digest(form.get("csrf", ""), expected):
            return WebReply(403, self.render("error.html", None, message="Jeton CSRF absent / CSRF token missing"))
        with self.engine.begin() as conn:
            cookie, why = sessions.sign_in(
                conn,
                form.get("username", ""),
                form.get("password", ""),
                form.get("code", ""),
                self.clock(),
                peer=request.peer,
            )
        if cookie is None:
            self.limiter.refused(request.peer)
            log.info("console_signin_refused", channel=request.channel, peer=request.peer)
            return WebReply(401, self.render("login.html", None, csrf=expected, error=why))
        return _redirect("/", _cookie(sessions.COOKIE, cookie, request.secure))

    def render(self, name: str, session: sessions.Session | None, **values: Any) -> bytes:
        """A template, autoescaped, as UTF-8."""
        return self.templates.get_template(name).render(session=session, **values).encode("utf-8")


def _cookie(name: str, value: str, secure: bool, *, expire: bool = False) -> tuple[str, str]:
    attributes = f"{name}={value}; Path=/; HttpOnly; SameSite=Strict"
    if secure:
        attributes += "; Secure"
    if expire:
        attributes += "; Max-Age=0"
    return ("Set-Cookie", attributes)


def _redirect(location: str, *headers: tuple[str, str]) -> WebReply:
    return WebReply(303, b"", headers=(("Location", location), *headers))


def _field_name(hooks: Hooks, version: str, location: str) -> str:
    """The reference model's name of the field an ERR-2 location points at (``OBX^1^11``), or ''."""
    parts = location.split("^")
    if len(parts) < 3 or not parts[2].isdigit():
        return ""
    names = hooks.field_names(version, parts[0])
    number = int(parts[2])
    return names[number - 1] if 0 < number <= len(names) else ""
