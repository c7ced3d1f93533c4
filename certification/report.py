"""Campaign reports: HTML a person reads, JSON, and JUnit XML for CI systems."""

from __future__ import annotations

import html
import json
from typing import Any
from xml.etree import ElementTree as ET

from .campaign import CampaignResult, Judged, StepResult


def to_dict(result: CampaignResult) -> dict[str, Any]:
    """The report as plain data (the JSON form)."""
    return {
        "plan": result.plan.name,
        "vendor": result.vendor,
        "product": result.product,
        "version": result.version,
        "passed": result.passed,
        "scenarios": [
            {
                "id": s.scenario.id,
                "title": s.scenario.title,
                "passed": s.passed,
                "steps": [
                    {
                        "step": st.step,
                        "source": st.source,
                        "passed": st.passed,
                        "problems": st.problems,
                        "answer": st.judged.answer if st.judged else None,
                        "violations": _violations(st),
                    }
                    for st in s.steps
                ],
            }
            for s in result.scenarios
        ],
        "unmatched": [
            {"source": j.source, "answer": j.answer, "violations": _judged_violations(j)} for j in result.unmatched
        ],
    }


def _violations(step: StepResult) -> list[dict[str, str]]:
    return [] if step.judged is None else _judged_violations(step.judged)


def _judged_violations(judged: Judged) -> list[dict[str, str]]:
    segments = _segments(judged.raw_text)
    out = []
    for issue in judged.issues:
        loc = issue.location
        text = segments.get((loc.segment, loc.sequence or 1), "")
        out.append(
            {
                "location": str(loc),
                "code": str(issue.code.value),
                "severity": issue.severity,
                "rule": issue.rule,
                "text": issue.text,
                "segment": text,
            }
        )
    return out


def _segments(text: str) -> dict[tuple[str, int], str]:
    counts: dict[str, int] = {}
    out = {}
    for line in text.replace("\r\n", "\r").replace("\n", "\r").split("\r"):
        seg_id = line[:3]
        if not seg_id:
            continue
        counts[seg_id] = counts.get(seg_id, 0) + 1
        out[(seg_id, counts[seg_id])] = line
    return out


def to_json(result: CampaignResult) -> str:
    """The JSON report."""
    return json.dumps(to_dict(result), ensure_ascii=False, indent=2)


def to_junit(result: CampaignResult) -> bytes:
    """One testsuite, one testcase per scenario; failures carry the problems."""
    data = to_dict(result)
    failures = sum(not s["passed"] for s in data["scenarios"])
    suite = ET.Element(
        "testsuite", name=data["plan"], tests=str(len(data["scenarios"])), failures=str(failures), errors="0"
    )
    for s in data["scenarios"]:
        case = ET.SubElement(suite, "testcase", classname=f"{data['product']} {data['version']}", name=s["id"])
        if not s["passed"]:
            problems = [f"step {st['step']} ({st['source'] or '-'}): {p}" for st in s["steps"] for p in st["problems"]]
            failure = ET.SubElement(case, "failure", message=f"{s['id']} failed")
            failure.text = "\n".join(problems)
    xml: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return xml


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.4rem;vertical-align:top;text-align:left}
.pass{color:#0a6b2e;font-weight:bold}.fail{color:#a4161a;font-weight:bold}
code{white-space:pre-wrap;word-break:break-all;background:#f4f4f4}
"""


def to_html(result: CampaignResult) -> str:
    """A page a tester reads: a scenario table, each violation beside its segment text."""
    data = to_dict(result)
    e = html.escape
    verdict = "RÉUSSIE / PASSED" if data["passed"] else "ÉCHOUÉE / FAILED"
    rows = []
    for s in data["scenarios"]:
        status = '<span class="pass">PASS</span>' if s["passed"] else '<span class="fail">FAIL</span>'
        details = []
        for st in s["steps"]:
            items = [f"<li>{e(p)}</li>" for p in st["problems"]]
            for v in st["violations"]:
                items.append(
                    f"<li>{e(v['location'])} ERR {e(v['code'])} {e(v['severity'])} {e(v['text'])}"
                    f"<br><code>{e(v['segment'])}</code></li>"
                )
            body = "<ul>" + "".join(items) + "</ul>" if items else "ok"
            answer = st["answer"] or "—"
            details.append(f"<p>Step {st['step']} — {e(st['source'] or 'no message')} — {e(answer)}</p>{body}")
        rows.append(
            f"<tr><td>{e(s['id'])}</td><td>{e(s['title'])}</td><td>{status}</td><td>{''.join(details)}</td></tr>"
        )
    unmatched = "".join(
        f"<tr><td>{e(u['source'])}</td><td>{e(u['answer'])}</td><td><ul>"
        + "".join(
            f"<li>{e(v['location'])} ERR {e(v['code'])} {e(v['severity'])} {e(v['text'])}"
            f"<br><code>{e(v['segment'])}</code></li>"
            for v in u["violations"]
        )
        + "</ul></td></tr>"
        for u in data["unmatched"]
    )
    return (
        f"<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>{e(data['plan'])}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Campagne de certification / Certification campaign</h1>"
        f"<p>Plan <b>{e(data['plan'])}</b> — {e(data['vendor'])} {e(data['product'])} {e(data['version'])}</p>"
        f"<p id='verdict' class='{'pass' if data['passed'] else 'fail'}'>{verdict}</p>"
        "<table><thead><tr><th>Scénario / Scenario</th><th>Titre / Title</th><th>Statut / Status</th>"
        "<th>Détails / Details</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + (
            "<h2>Messages sans scénario / Unmatched messages</h2><table id='unmatched'><thead><tr>"
            "<th>Message</th><th>Réponse / Answer</th><th>Violations</th></tr></thead>"
            f"<tbody>{unmatched}</tbody></table>"
            if unmatched
            else ""
        )
        + "</body></html>"
    )
