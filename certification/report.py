"""Campaign reports: HTML a person reads, JSON, and JUnit XML for CI systems.

The HTML is a Jinja2 template over the JSON form's data, with autoescaping on: a vendor's
scenario, file or segment text can hold markup, and it is shown, never run.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from xml.etree import ElementTree as ET

from jinja2 import Environment, PackageLoader, StrictUndefined

from .campaign import CampaignResult, Judged, StepResult

HTML_TEMPLATE = "report.html.j2"  # in certification/templates/


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


@cache
def _environment() -> Environment:
    """The templates' environment, built once: every value is escaped, a missing one is an error."""
    return Environment(
        loader=PackageLoader("certification", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def to_html(result: CampaignResult) -> str:
    """A page a tester reads: a scenario table, each violation beside its segment text."""
    return _environment().get_template(HTML_TEMPLATE).render(report=to_dict(result))
