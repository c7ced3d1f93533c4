"""What the hot path makes of every sample, as one JSON text: parsed fields, rule issues, records.

Run as a script (``python digest.py [--pure]``) it prints the digest; the parity test compares
the compiled build's digest with the pure-Python one.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime
from typing import Any

from shared_samples import samples

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def digest() -> str:
    """Every sample through decode, parse, header, the domain's rule set and its mapping."""
    from certification.rules import Context
    from certification.ruleset import load_ruleset
    from hub.hl7 import HL7Error, build_ack, decode, parse, read_header
    from mappings import routes_for

    out: dict[str, Any] = {}
    for path in samples("hl7v2", "*/*.hl7"):
        domain = path.parent.name
        entry: dict[str, Any] = {}
        try:
            decoded = decode(path.read_bytes())
            msg = parse(decoded.text)
            header = read_header(msg)
            entry["fields"] = [[s.id, *s.fields[1:]] for s in msg.segments]
            entry["values"] = [[s.value(n, c) for n in range(1, len(s.fields)) for c in (1, 2, 3)] for s in msg]
            entry["warnings"] = _plain([*decoded.warnings, *msg.warnings])
            ruleset = {"lab": "tgv-lab-2026.1", "pharmacy": "tgv-pharmacy-2026.1"}.get(domain, "tgv-imaging-2026.1")
            entry["issues"] = _plain(load_ruleset(ruleset).validate_message(msg, header, Context(now=NOW)))
            entry["ack"] = build_ack("AA", header, [], application="P", facility="D", control_id="1", now=NOW)
            route = routes_for(domain if domain in ("lab", "pharmacy") else "imaging").get(
                (header.message_code, header.trigger_event)
            )
            if route is not None:
                entry["mapped"] = _plain(route.mapper(msg, header))
        except HL7Error as err:
            entry["error"] = _plain(err.issues)
        out[path.name] = entry
    return json.dumps(out, sort_keys=True, ensure_ascii=False)


if __name__ == "__main__":
    if "--pure" in sys.argv:
        from pure import prefer_sources

        prefer_sources()
    sys.stdout.write(digest())
