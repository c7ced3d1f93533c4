"""Certification campaigns: recorded traffic against the tgv-lab plan, reports, certificates."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import Result
from commands import invoke
from lxml import html as lxml_html
from shared_samples import samples
from vendor_traffic import TrafficMaker
from xpaths import xnodes, xstring

from certification import campaign
from certification.campaign import CampaignResult, Judged, Scenario, ScenarioResult, Step, StepResult
from certification.report import to_html
from hub.hl7.errors import Code, Issue, Location


def cli(config: Path, *args: str) -> Result:
    """`passerelle ARGS --config CONFIG`, in this process."""
    return invoke(*args, "--config", str(config))


def certify_run(config: Path, who: tuple[str, str, str], out: Path, files: Iterable[Path]) -> Result:
    """`certify run` of the tgv-lab plan for (vendor, product, version), reports written to `out`."""
    vendor, product, version = who
    plan = ["--plan", "tgv-lab-2026.1", "--vendor", vendor, "--product", product, "--version", version]
    return cli(config, "certify", "run", *plan, "--out", str(out), *map(str, files))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config on an empty SQLite repository, schema created."""
    path = tmp_path / "c.yaml"
    path.write_text(f"database:\n  url: sqlite:///{tmp_path / 'repo.db'}\n")
    assert cli(path, "db", "upgrade").exit_code == 0
    return path


def test_passing_campaign_issues_a_certificate_and_stores_nothing_clinical(
    config: Path, tmp_path: Path, traffic_maker: TrafficMaker
) -> None:
    """All six scenarios pass: reports in three forms, a certificate, no message in the repository."""
    traffic = tmp_path / "traffic"
    traffic.mkdir()
    out = tmp_path / "report"
    run = certify_run(config, ("Acme", "LabSys", "4.2"), out, traffic_maker.files(traffic))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert [line.split("\t")[:2] for line in run.stdout.splitlines()[:6]] == [
        [f"LAB-0{n}", "PASS"] for n in range(1, 7)
    ]
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] is True
    suite = ET.fromstring((out / "junit.xml").read_bytes())  # noqa: S314 - our own report, not untrusted input
    assert (suite.get("tests"), suite.get("failures")) == ("6", "0")
    certificates = json.loads(cli(config, "certify", "certificates", "--json").stdout)
    assert [(c["product"], c["version"], c["plan"]) for c in certificates] == [("LabSys", "4.2", "tgv-lab-2026.1")]
    db = config.read_text().split("sqlite:///")[1].strip()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone() == (0,)
        statuses = conn.execute("SELECT status FROM journal ORDER BY seq").fetchall()
    assert statuses == [("certification.passed",), ("certificate.issued",)]


def test_a_failing_scenario_is_reported_and_not_certified(
    config: Path, tmp_path: Path, traffic_maker: TrafficMaker
) -> None:
    """LAB-06 accepted by mistake (its message is valid) fails the campaign: no certificate."""
    traffic = tmp_path / "traffic"
    traffic.mkdir()
    files = traffic_maker.files(traffic)
    files[-1].write_bytes(traffic_maker.message("V06", "F").encode())  # the hub accepts it: the scenario expects AE
    run = certify_run(config, ("Acme", "LabSys", "4.3"), tmp_path / "r", files)
    assert run.exit_code == 1
    assert "LAB-06\tFAIL" in run.stdout
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    (lab06,) = [s for s in report["scenarios"] if s["id"] == "LAB-06"]
    assert lab06["steps"][0]["problems"] == ["hub answered AA, scenario expects AE"]
    assert json.loads(cli(config, "certify", "certificates", "--json").stdout) == []


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("CI"):
        pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium package)")
    return found


def test_report_over_the_lab_samples_reads_well_in_chromium(config: Path, tmp_path: Path) -> None:
    """Headless Chromium renders the samples' report: verdict, six scenario rows, violations with segments."""
    browser = _chromium()
    if browser is None:
        pytest.skip("Debian's chromium package is not installed on this machine (CI installs it)")
    out = tmp_path / "samples"
    run = certify_run(config, ("Samples", "Public", "1"), out, samples("hl7v2/lab", "*.hl7"))
    assert run.exit_code == 1  # public samples are not a vendor's certification traffic
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    page = (out / "report.html").as_uri()
    dom = subprocess.run([browser, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120)
    tree = lxml_html.fromstring(dom.stdout)
    assert xstring(tree, "string(//p[@id='verdict'])") == "ÉCHOUÉE / FAILED"
    rows = xnodes(tree, "//table[1]/tbody/tr")
    assert [xstring(r, "string(td[1])") for r in rows] == [f"LAB-0{n}" for n in range(1, 7)]
    assert all(xstring(r, "string(td[3])") == "FAIL" for r in rows)
    unmatched = xnodes(tree, "//table[@id='unmatched']/tbody/tr")
    by_source = {xstring(r, "string(td[1])"): r for r in unmatched}
    mirth = by_source["mirth_oru_cbc_v23.hl7#1"]
    assert xstring(mirth, "string(td[2])") == "AR"  # MSH-11 P on a certification channel (T expected)
    assert "MSH|^~\\&|SendingApp" in xstring(mirth, "string(.//code)")  # the violation beside its segment
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1280,900", page], capture_output=True, timeout=120
    )
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


SCRIPT = "<script>alert('x')</script>"


def _hostile_result() -> CampaignResult:
    """A campaign whose vendor, scenario, file and segment texts all hold a script element."""
    issue = Issue(Code.REQUIRED_FIELD_MISSING, Location("PID", 1, 3), f"manquant {SCRIPT}", f"missing {SCRIPT}")
    judged = Judged(f"{SCRIPT}.hl7#1", "C1", "AE", (issue,), None, f"MSH|^~\\&|X\rPID|1||{SCRIPT}\r", False)
    scenario = Scenario(id=f"LAB-{SCRIPT}", title=f"Titre {SCRIPT}", steps=(Step(answer="AE"),))
    # campaign.TestPlan, not an imported TestPlan: pytest would try to collect that name as a test class
    plan = campaign.TestPlan(id="tgv-lab", version="2026.1", ruleset="tgv-lab-2026.1", scenarios=(scenario,))
    steps = [StepResult(1, f"{SCRIPT}.hl7#1", False, [f"problem {SCRIPT}"], judged)]
    return CampaignResult(plan, f"Acme {SCRIPT}", "LabSys", "4.2", [ScenarioResult(scenario, steps)], [judged])


def test_html_report_escapes_markup_in_names_and_texts() -> None:
    """A scenario or file name holding <script> is shown as text: no element, no attribute breaks out."""
    page = to_html(_hostile_result())
    assert "<script" not in page
    assert "&lt;script&gt;" in page
    tree = lxml_html.fromstring(page)
    assert not xnodes(tree, "//script")
    (row,) = xnodes(tree, "//table[1]/tbody/tr")
    assert xstring(row, "string(td[1])") == f"LAB-{SCRIPT}"
    assert xstring(row, "string(td[2])") == f"Titre {SCRIPT}"
    assert xstring(row, "string(td[3])") == "FAIL"
    assert f"problem {SCRIPT}" in xstring(row, "string(td[4])")
    (unmatched,) = xnodes(tree, "//table[@id='unmatched']/tbody/tr")
    assert xstring(unmatched, "string(td[1])") == f"{SCRIPT}.hl7#1"
    assert xstring(unmatched, "string(.//code)") == f"PID|1||{SCRIPT}"
    assert xstring(tree, "string(//p[@id='verdict'])") == "ÉCHOUÉE / FAILED"
    assert SCRIPT in xstring(tree, "string(//body/p[1])")  # the vendor line
