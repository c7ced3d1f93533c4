"""The console in-process: sign-in with TOTP, lockout, sessions, CSRF, the browser, journaled bodies."""

from __future__ import annotations

import pytest
from console_world import Browser, Clock, fill, make_console
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.governance.journal import verify
from hub.registers.operators import change
from hub.store.models import JournalEntry


def _journal(engine: Engine) -> list[JournalEntry]:
    with Session(engine) as s:
        return list(s.scalars(select(JournalEntry).order_by(JournalEntry.seq)))


def test_every_page_needs_a_session_and_every_post_its_csrf(engine: Engine) -> None:
    """No session: 303 to /login; a POST without the token: 403; the login POST without its token: 403."""
    console, secrets = make_console(engine)
    anonymous = Browser(console)
    for path in ("/", "/messages", "/messages/1", "/partners"):
        reply = anonymous.request("GET", path)
        assert (reply.status, dict(reply.headers).get("Location")) == (303, "/login")
    assert anonymous.request("POST", "/login", {"username": "ana", "password": "x", "code": "1"}).status == 403
    browser = Browser(console)
    assert browser.sign_in("ana", secrets["ana"]).status == 303
    assert browser.request("POST", "/logout").status == 403
    assert browser.request("POST", "/logout", {"csrf": browser.csrf()}).status == 303
    assert browser.request("GET", "/").status == 303


def test_session_cookies_are_httponly_strict_and_secure_over_tls(engine: Engine) -> None:
    """Set-Cookie: HttpOnly and SameSite=Strict always, Secure on a TLS channel."""
    console, secrets = make_console(engine)
    for secure in (False, True):
        browser = Browser(console, secure=secure)
        reply = browser.sign_in("ana", secrets["ana"])
        cookie = next(v for k, v in reply.headers if k == "Set-Cookie" and v.startswith("passerelle_session="))
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert ("Secure" in cookie) == secure


def test_five_bad_codes_lock_until_an_admin_unlocks(engine: Engine) -> None:
    """Five failures in a row lock the account; the right code then fails too; unlock restores it."""
    console, secrets = make_console(engine)
    browser = Browser(console)
    for _ in range(5):
        assert browser.sign_in("ana", secrets["ana"], code="000000").status == 401
    locked = browser.sign_in("ana", secrets["ana"])
    assert locked.status == 401 and "verrouillé" in locked.body.decode()
    statuses = [e.status for e in _journal(engine) if e.reason.startswith("ana")]
    assert statuses.count("operator.signin-fail") == 6 and statuses.count("operator.locked") == 1
    change(engine, "ana", "unlock", "admin-bob", "called the help desk")
    assert browser.sign_in("ana", secrets["ana"]).status == 303
    assert verify(engine)[0] is None


def test_a_session_ends_after_15_idle_minutes(engine: Engine) -> None:
    """14 minutes apart: still signed in; 16 minutes idle: back to /login."""
    clock = Clock()
    console, secrets = make_console(engine, clock)
    browser = Browser(console)
    assert browser.sign_in("ana", secrets["ana"]).status == 303
    clock.advance(14)
    assert browser.request("GET", "/").status == 200
    clock.advance(16)
    assert browser.request("GET", "/").status == 303


def test_messages_are_found_and_a_body_is_an_access(engine: Engine) -> None:
    """Search by control ID; the operator sees the ER7 and it is journaled; the viewer sees no body."""
    fill(engine)
    console, secrets = make_console(engine)
    ana = Browser(console)
    ana.sign_in("ana", secrets["ana"])
    found = ana.request("GET", "/messages", control_id="M1").body.decode()
    assert "M1" in found and "M2" not in found
    accepted = next(e for e in _journal(engine) if e.control_id == "M1")
    page = ana.request("GET", f"/messages/{accepted.id}").body.decode()
    assert "OBX" in page and 'title="OBX-5"' in page
    access = _journal(engine)[-1]
    assert (access.status, access.operator, access.patient_id) == ("access.message", "ana", 1)
    vic = Browser(console)
    vic.sign_in("vic", secrets["vic"])
    before = len(_journal(engine))
    page = vic.request("GET", f"/messages/{accepted.id}").body.decode()
    assert "OBX|" not in page and "not shown to this role" in page
    assert [e.status for e in _journal(engine)[before:]] == []
    refused = next(e for e in _journal(engine) if e.control_id == "M2")
    assert refused.status == "refused"
    assert "unknown-sender" in vic.request("GET", f"/messages/{refused.id}").body.decode()


@pytest.mark.parametrize(
    ("bad", "escaped"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('" onmouseover="x', "&#34; onmouseover=&#34;x"),
    ],
)
def test_what_an_operator_types_is_escaped(engine: Engine, bad: str, escaped: str) -> None:
    """A search value comes back escaped in the form, never as markup."""
    console, secrets = make_console(engine)
    browser = Browser(console)
    browser.sign_in("ana", secrets["ana"])
    page = browser.request("GET", "/messages", control_id=bad).body.decode()
    assert bad not in page and f'value="{escaped}"' in page


def test_the_dashboard_counts_the_last_hour(engine: Engine) -> None:
    """Per channel by status and ACK code, and the refused links by reason."""
    fill(engine)
    console, secrets = make_console(engine)
    browser = Browser(console)
    browser.sign_in("vic", secrets["vic"])
    page = browser.request("GET", "/").body.decode()
    assert "Canal / Channel lab" in page
    assert "<td>accepted</td><td>AA</td><td>1</td>" in page
    assert "<td>unknown-sender</td><td>1</td>" in page


def test_the_journal_page_verifies_on_demand(engine: Engine) -> None:
    """Operators verify the chain from the page; the result is journaled; viewers may not."""
    fill(engine)
    console, secrets = make_console(engine)
    ana = Browser(console)
    ana.sign_in("ana", secrets["ana"])
    page = ana.request("POST", "/journal/verify", {"csrf": ana.csrf()}).body.decode()
    assert 'id="verify" class="">ok:' in page
    last = _journal(engine)[-1]
    assert (last.status, last.operator, last.decision) == ("journal.verify", "ana", "ok")
    vic = Browser(console)
    vic.sign_in("vic", secrets["vic"])
    assert "unknown-sender" in vic.request("GET", "/journal").body.decode()  # the refused link, a security event
    assert vic.request("POST", "/journal/verify", {"csrf": vic.csrf()}).status == 404


def test_the_privacy_page_is_for_the_privacy_role(engine: Engine) -> None:
    """A privacy officer reads the refusal register and a patient's access list (journaled); others get 403."""
    from console_world import PASSWORD

    from hub.console import Privacy
    from hub.consult import audit
    from hub.registers.operators import add

    fill(engine)
    console, secrets = make_console(engine)
    console.privacy = Privacy(access_list=audit.access_list, surveillance=audit.surveillance_report)
    secret = add(engine, "pia", "Pia", "privacy", password=PASSWORD, actor="t").totp_secret
    pia = Browser(console)
    pia.sign_in("pia", secret)
    page = pia.request("GET", "/privacy", nam="CHUM:P1").body.decode()
    assert "Registre des refus" in page and "Aucun accès / no access" in page
    assert (_journal(engine)[-1].status, _journal(engine)[-1].operator) == ("access.list", "pia")
    again = pia.request("GET", "/privacy", nam="CHUM:P1").body.decode()
    assert "opérateur / operator pia" in again and "access-list" in again  # the first listing is an access
    ana = Browser(console)
    ana.sign_in("ana", secrets["ana"])
    assert ana.request("GET", "/privacy").status == 403
