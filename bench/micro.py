"""The micro-benchmarks: parse and validation cost per message, and the machine's speed at the time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from bench.messages import oru

T = TypeVar("T")


def time_per_call(fn: Callable[[T], object], arg: T, seconds: float = 1.0, rounds: int = 5) -> float:
    """Seconds per call: the best of `rounds` rounds, each the mean over `seconds / rounds`.

    The best round, as timeit advises: on a shared machine the slower rounds measure the
    neighbours, not the code.
    """
    best = float("inf")
    for _ in range(rounds):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / rounds:
            fn(arg)
            n += 1
        best = min(best, (time.perf_counter() - start) / n)
    return best


def validation_bench() -> dict[str, float]:
    """Microseconds to validate one parsed 2 KB ORU: our tgv-lab rule set and structure vs hl7apy strict."""
    import warnings
    from datetime import UTC, datetime

    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_message
    from hl7apy.validation import Validator

    from certification.conformance import validate_structure
    from certification.rules import Context
    from certification.ruleset import load_ruleset
    from hub.hl7 import decode, parse, read_header

    raw = oru("VALID1")
    text = raw.decode()
    header = read_header(parse(decode(raw).text))
    ruleset = load_ruleset("tgv-lab-2026.1")
    ctx = Context(now=datetime.now(UTC))
    parsed = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT)

    def strict(m: Any) -> object:  # an hl7apy Message: hl7apy has no type hints
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Validator.validate(m, report_file=None)

    # Each run parses afresh (values decoded once per message are memoized on its segments),
    # and the parse cost measured the same way is taken off: what remains is validation alone.
    parse_only = time_per_call(lambda r: parse(decode(r).text), raw)
    structure = time_per_call(lambda r: validate_structure(parse(decode(r).text), "2.5.1"), raw)
    full = time_per_call(lambda r: ruleset.validate_message(parse(decode(r).text), header, ctx), raw)
    return {
        "ours_structure_us": (structure - parse_only) * 1e6,
        "ours_ruleset_us": (full - parse_only) * 1e6,
        "hl7apy_strict_us": time_per_call(strict, parsed, 2.0) * 1e6,
    }


def parse_bench() -> dict[str, float]:
    """Microseconds per message for each parser."""
    import hl7
    from hl7apy.parser import parse_message

    from hub.hl7 import decode, parse, read_header
    from mappings import routes_for

    raw = oru("PARSE1")
    text = raw.decode()
    route = routes_for("lab")[("ORU", "R01")]

    def ours(data: bytes) -> object:
        return read_header(parse(decode(data).text))

    def ours_mapped(data: bytes) -> object:
        msg = parse(decode(data).text)
        return route.mapper(msg, read_header(msg))

    return {
        "bytes": len(raw),
        "ours_parse_us": time_per_call(ours, raw) * 1e6,
        "ours_parse_map_us": time_per_call(ours_mapped, raw) * 1e6,
        "python_hl7_us": time_per_call(hl7.parse, text) * 1e6,
        "hl7apy_us": time_per_call(parse_message, text, 3.0) * 1e6,
    }


MIB = 1 << 20
_MSH = "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|BIG|P|2.5.1\r"


def _shapes() -> dict[str, str]:
    """1 MiB messages of the shapes that once cost more than linear time, or might."""
    import base64

    body = base64.b64encode(b"x" * (MIB * 3 // 4)).decode()
    ed = "\r".join(body[i : i + 150] for i in range(0, len(body), 150))
    return {
        "ED cut by bare CRs every 150 chars": _MSH + "PID|1||1\rOBR|1\rOBX|1|ED|X||^AP^PDF^Base64^" + ed + "\r",
        "9,000 segments": _MSH + ("NTE|1||" + "n" * 108 + "\r") * 9000,
        "one segment, 500,000 fields": _MSH + "NTE" + "|a" * (MIB // 2) + "\r",
        "one field, 500,000 repetitions": _MSH + "NTE|1||" + "a~" * (MIB // 2) + "\r",
        "one field, 500,000 components": _MSH + "NTE|1||" + "a^" * (MIB // 2) + "\r",
        "262,144 unknown escape sequences": _MSH + "NTE|1||" + "\\Q\\a" * (MIB // 4) + "\r",
        "209,715 hex escape sequences": _MSH + "NTE|1||" + "\\X41\\" * (MIB // 5) + "\r",
    }


def big_parse_bench() -> dict[str, float]:
    """Milliseconds to parse each 1 MiB shape (best of 3), with the segment cap raised to let it in."""
    from hub.hl7 import parse

    out: dict[str, float] = {}
    for name, text in _shapes().items():
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            parse(text, max_segments=1_000_000)
            best = min(best, time.perf_counter() - start)
        out[name] = best * 1e3
    return out


def loop_ms() -> float:
    """The machine's speed now: ms for a 1,000,000-step empty Python loop, best of 5 (lower is faster)."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _i in range(1_000_000):
            pass
        best = min(best, time.perf_counter() - start)
    return best * 1e3
