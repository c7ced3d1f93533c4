"""The journal's canonical text is the JSON the hash was defined on, for every value an entry can hold."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.governance.journal import CHAINED, OPTIONAL, canonical, entry_hash


def _reference(prev_hash: str, entry: dict[str, Any]) -> str:
    """The hash as first defined: json.dumps of the chained fields, sorted keys, compact, non-ASCII kept."""
    values: dict[str, Any] = {}
    for k in CHAINED:
        v = entry.get(k)
        if isinstance(v, datetime):
            if v.tzinfo is not None:
                v = v.astimezone(UTC).replace(tzinfo=None)
            v = v.isoformat(sep=" ", timespec="microseconds")
        values[k] = v
    for k in OPTIONAL:
        if entry.get(k) not in (None, ""):
            values[k] = entry[k]
    payload = prev_hash + json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# Text with what JSON escapes (quotes, backslashes, every control character) and non-ASCII.
_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ['a"b', "back\\slash", "tab\there", "line\nbreak", "\x00\x1f\x7f", "é à ç — 医院", ""]
)
_stamp = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
_aware = st.builds(lambda d, h: d.replace(tzinfo=timezone(timedelta(hours=h))), _stamp, st.integers(-12, 12))
_plain = st.none() | _text | st.integers(-(2**63), 2**63) | st.booleans()
_entries = st.builds(
    lambda chained, optional: {**chained, **optional},
    st.dictionaries(st.sampled_from(CHAINED), _plain | _stamp | _aware),
    st.dictionaries(st.sampled_from(OPTIONAL), _plain),  # an access's patient, its detail: never a datetime
)


@settings(deadline=None)  # an equality, not a timing: a slow example on a busy machine is no failure
@given(prev=st.text(alphabet="0123456789abcdef", max_size=64), entry=_entries)
def test_the_hash_is_the_one_json_dumps_defined(prev: str, entry: dict[str, Any]) -> None:
    """Any entry, fields set or missing, hashes as the general-purpose encoder made it hash."""
    assert entry_hash(prev, entry) == _reference(prev, entry)


def test_a_typical_entry_reads_as_its_json() -> None:
    """Sorted keys, no spaces, the text unescaped but for quotes and control characters."""
    entry = {"seq": 7, "status": "accepted", "reason": 'PID^1^5 "Tremblay"\n', "message_id": None, "detail": ""}
    text = canonical(entry)
    assert json.loads(text)["reason"] == 'PID^1^5 "Tremblay"\n'
    assert text.startswith('{"ack_code":null,"at":null,"channel":null,')
    assert '"reason":"PID^1^5 \\"Tremblay\\"\\n"' in text
    assert '"detail"' not in text  # optional and unset: left out
