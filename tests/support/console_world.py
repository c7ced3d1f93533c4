"""The console in-process: an operator of each role, a stored message and a refused one, a clock to move."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from sqlalchemy import Engine

from hub.console import Console
from hub.governance.limiter import RefusalLimiter
from hub.interfaces import WebReply, WebRequest
from hub.registers.operators import add

PASSWORD = "correct horse battery staple"  # noqa: S105 - the test operators' password


@dataclass
class Browser:
    """Cookies kept between requests, as a browser keeps them."""

    console: Console
    cookies: dict[str, str] = field(default_factory=dict)
    secure: bool = False

    def request(self, method: str, path: str, form: dict[str, str] | None = None, **query: str) -> WebReply:
        """One request; the Set-Cookie headers of the answer are kept."""
        reply = self.console.answer(
            WebRequest(method, path, tuple(query.items()), tuple((form or {}).items()), tuple(self.cookies.items()),
                       "127.0.0.1", "console", self.secure, datetime.now(UTC))
        )  # fmt: skip
        for name, value in reply.headers:
            if name == "Set-Cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return reply

    def sign_in(self, username: str, secret: str, code: str | None = None, password: str = PASSWORD) -> WebReply:
        """The login form, then its POST with the CSRF token the form carried."""
        page = self.request("GET", "/login").body.decode()
        match = re.search(r'name="csrf" value="([^"]+)"', page)
        assert match is not None
        form = {"username": username, "password": password, "code": code or pyotp.TOTP(secret).now(),
                "csrf": match.group(1)}  # fmt: skip
        return self.request("POST", "/login", form)

    def csrf(self) -> str:
        """The session's CSRF token, read from a page's sign-out form."""
        match = re.search(r'name="csrf" value="([^"]+)"', self.request("GET", "/").body.decode())
        assert match is not None
        return match.group(1)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        """The time now."""
        return self.now

    def advance(self, minutes: float) -> None:
        """Move the time forward."""
        self.now += timedelta(minutes=minutes)


def make_console(engine: Engine, clock: Any = None, hooks: Any = None) -> tuple[Console, dict[str, str]]:
    """A console and the TOTP secrets of `ana` (operator) and `vic` (viewer)."""
    secrets = {}
    for operator_id, role in (("ana", "operator"), ("vic", "viewer")):
        secrets[operator_id] = add(engine, operator_id, operator_id.title(), role, password=PASSWORD,
                                   actor="test").totp_secret  # fmt: skip
    console = Console(engine, RefusalLimiter(600, 600), reactor=None, clock=clock or (lambda: datetime.now(UTC)),
                      hooks=hooks)  # fmt: skip
    return console, secrets


def fill(engine: Engine) -> None:
    """M1 accepted, M2 from an unknown sender refused."""
    from helpers import lab_message
    from lab_engine import registered_intake

    from hub.interfaces import Inbound

    intake = registered_intake(engine)
    for raw in (lab_message("M1"), lab_message("M2", app="NOBODY")):
        intake.handle(Inbound(raw, "127.0.0.1", "lab", datetime.now(UTC)))
