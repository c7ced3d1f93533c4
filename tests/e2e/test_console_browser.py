"""The console in Debian's chromium (Playwright) against a real hub: sign-in, messages, partners, reprocess, lockout.

Each page visited is saved as a screenshot under the test's temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyotp
import pytest
from commands import invoke
from domain_hub import send
from helpers import lab_message
from servers import DEFAULT_PARTNERS, Server, ServerFactory, free_port

pytestmark = pytest.mark.slow
PASSWORD = "un mot de passe assez long"  # noqa: S105 - the test operators' password
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium package)")
        pytest.skip("Debian's chromium package is not installed on this machine (CI installs it)")
    return found


def _partner(pid: str, app: str) -> dict[str, Any]:
    return {
        "id": pid, "name": f"SIL {pid}", "organization": "chum", "authorities": ["CHUM"], "category": "government",
        "domains": ["lab"], "product": {"name": "LabSys", "version": "4.2"},
        "identities": [{"sending_application": app, "sending_facility": "CHUM"}],
    }  # fmt: skip


def _operator(server: Server, tmp_path: Path, operator_id: str, role: str) -> str:
    secret_file = tmp_path / "password.txt"
    secret_file.write_text(PASSWORD)
    made = invoke("operators", "add", "--id", operator_id, "--name", operator_id.title(), "--role", role,
                  "--password-file", str(secret_file), "--json", "--config", str(server.config))  # fmt: skip
    assert made.exit_code == 0, made.stderr
    shown = json.loads(made.stdout)
    assert shown["otpauth_uri"].startswith("otpauth://totp/")
    return str(shown["totp_secret"])


@pytest.fixture
def console_hub(server_factory: ServerFactory) -> tuple[Server, str]:
    """A hub with its console on a loopback port; a suspended partner, and one to cut."""
    port = free_port()
    channel = {"name": "console", "protocol": "console", "listen": f"tcp:{port}:interface=127.0.0.1"}
    partners = [*DEFAULT_PARTNERS, _partner("sil-suspendu", "SUSP"), _partner("sil-a-couper", "CUTME")]
    server = server_factory(extra_channels=[channel], partners=partners)
    done = invoke("partners", "suspend", "sil-suspendu", "--reason", "contrat échu", "--config", str(server.config))
    assert done.exit_code == 0, done.stderr
    return server, f"http://127.0.0.1:{port}"


def test_an_operator_runs_the_hub_from_the_browser(console_hub: tuple[Server, str], tmp_path: Path) -> None:
    """Sign in with TOTP; find a message by control ID and read its ERR; approve, reprocess to AA; cut; lock."""
    from playwright.sync_api import expect, sync_playwright

    server, base = console_hub
    secret = _operator(server, tmp_path, "alice", "admin")
    bob = _operator(server, tmp_path, "bob", "viewer")
    suspended = [lab_message(f"S-{n}", app="SUSP") for n in (1, 2, 3)]
    acks = send(server.port, lab_message("OK-1"), lab_message("T-1").replace(b"|P|2.5.1", b"|T|2.5.1"), *suspended)
    assert [a.code for a in acks] == ["AA", "AR", "AR", "AR", "AR"]
    shots = tmp_path / "screens"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=FLAGS)
        page = browser.new_page()

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        page.goto(f"{base}/messages")
        assert page.url == f"{base}/login"
        shot("login")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=code]", pyotp.TOTP(secret).now())
        page.click("button[type=submit]")
        assert page.url == f"{base}/", page.inner_text("main")
        assert "Canal / Channel lab" in page.content()
        shot("dashboard")
        updated = page.inner_text("#board .muted")
        expect(page.locator("#board .muted")).not_to_have_text(updated, timeout=15_000)  # htmx swapped the board

        page.goto(f"{base}/messages")
        page.fill("input[name=control_id]", "T-1")
        page.click("form[action='/messages'] button")
        shot("search")
        page.click("table >> text=T-1 >> xpath=../td[1]/a")
        text = page.inner_text("main")
        assert "MSH segment 1, field 11 (Processing id)" in text and "202 Unsupported processing id" in text
        shot("message-err")
        page.goto(f"{base}/messages?control_id=OK-1")
        page.click("table >> text=OK-1 >> xpath=../td[1]/a")
        assert page.get_attribute("pre.er7 span[title^='MSH-10']", "title") == "MSH-10 Message control id"
        page.hover("pre.er7 span[title^='OBX-11']")
        shot("message-body")
        page.click("a[href='/patients/1']")
        assert "CHUM" in page.inner_text("main") and "OK-1" in page.inner_text("main")
        shot("patient")

        page.goto(f"{base}/partners/sil-suspendu")
        page.fill("form[action$='/approve'] input[name=reason]", "contrat renouvelé")
        page.click("form[action$='/approve'] button")
        assert page.inner_text("#state") == "active"
        shot("partner-approved")
        page.goto(f"{base}/messages?control_id=S-1")
        page.click("table >> text=S-1 >> xpath=../td[1]/a")
        page.click("text=Retraiter / Reprocess")
        shot("reprocess-confirm")
        page.click("text=Confirmer / Confirm")
        assert page.inner_text("#ack") == "AA"
        shot("reprocessed")

        page.goto(f"{base}/messages?sender=SUSP&status=refused")
        page.click("#bulk")
        assert page.inner_text("#count") == "3"
        shot("bulk-confirm")
        page.click("text=Confirmer / Confirm")
        expect(page.locator("#state")).to_have_text("done", timeout=30_000)  # the progress, updated live
        assert page.inner_text("#done") == "3" and "AA" in page.inner_text("#job")
        shot("bulk-done")

        page.goto(f"{base}/certification")
        shot("certification")
        page.select_option("select[name=plan]", "tgv-lab-2026.1")
        for name, value in (("vendor", "Acme"), ("product", "LabSys"), ("version", "5.0")):
            page.fill(f"input[name={name}]", value)
        page.click("form[action='/certification/open'] button")
        assert page.inner_text("#status") == "open" and "en attente / pending" in page.inner_text("main")
        shot("campaign")

        page.goto(f"{base}/partners/sil-a-couper")
        assert "Couper est définitif" in page.inner_text("main")
        page.fill("form[action$='/cut'] input[name=reason]", "fin de service")
        page.fill("form[action$='/cut'] input[name=confirm]", "sil-a-couper")
        page.click("form[action$='/cut'] button")
        assert page.inner_text("#state") == "cut"
        shot("partner-cut")

        other = browser.new_page()
        for attempt in range(6):
            other.goto(f"{base}/login")
            other.fill("input[name=username]", "bob")
            other.fill("input[name=password]", PASSWORD)
            other.fill("input[name=code]", "000000" if attempt < 5 else pyotp.TOTP(bob).now())  # 6th: right, too late
            other.click("button[type=submit]")
        assert "compte verrouillé" in other.inner_text("main")
        other.screenshot(path=str(shots / "locked.png"), full_page=True)
        browser.close()
    listed = json.loads(invoke("operators", "list", "--json", "--config", str(server.config)).stdout)
    assert {o["id"]: o["state"] for o in listed} == {"alice": "active", "bob": "locked"}
    reprocessed = json.loads(invoke("messages", "list", "--json", "--config", str(server.config)).stdout)
    assert [r["ack_code"] for r in reprocessed if r["control_id"] == "S-1"][:2] == ["", "AA"]
    assert invoke("journal", "verify", "--config", str(server.config)).exit_code == 0
