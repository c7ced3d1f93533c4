"""Property tests (hypothesis): the framer, the parser, escapes and the ACK builder."""

from __future__ import annotations

import os
import unicodedata
from datetime import datetime

from fakes import RecordingHandler, Transport, attach, peer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import Clock

from channels.mllp import Limits, MLLPFactory, frame
from hub.hl7 import Code, Delimiters, HL7Error, Issue, Location, build_ack, decode, escape, parse, read_header, unescape

# CI runs the short profile; `HYPOTHESIS_PROFILE=long` (make fuzz) runs 5,000 examples per property.
settings.register_profile("short", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SETTINGS = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "short"))
payload = st.binary(min_size=1, max_size=300).filter(lambda b: b"\x0b" not in b and b"\x1c" not in b)


@SETTINGS
@given(st.lists(payload, min_size=1, max_size=5), st.data())
def test_framer_gives_the_same_frames_under_any_chunking(messages: list[bytes], data: st.DataObject) -> None:
    """Whatever the read boundaries, the same payloads come out, in order."""
    stream = b"".join(frame(m) for m in messages)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=20)))
    handler = RecordingHandler(lambda i: None)
    proto = MLLPFactory("lab", handler, Limits(), clock=IReactorTime(Clock())).buildProtocol(peer(port=1))
    assert proto is not None
    attach(proto, Transport())
    start = 0
    for cut in [*cuts, len(stream)]:
        proto.dataReceived(stream[start:cut])
        start = cut
    assert [i.raw for i in handler.received if i.defect is None] == [m for m in messages if m.strip(b" \t\r\n")]


@SETTINGS
@given(st.binary(max_size=2000))
def test_parser_raises_only_our_errors_on_any_bytes(raw: bytes) -> None:
    """Decode and parse arbitrary bytes: a Message or an HL7Error, never anything else."""
    try:
        msg = parse(decode(raw).text)
        read_header(msg)
    except HL7Error:
        pass


CHARACTERS = st.characters(exclude_categories=["Cs"])  # any character but a lone surrogate
MSH = "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|X|P|2.5.1\r"


@SETTINGS
@given(st.text(alphabet=CHARACTERS, max_size=200))
def test_parser_raises_only_our_errors_on_any_text_after_msh(body: str) -> None:
    """Arbitrary text behind a valid MSH also parses or raises HL7Error."""
    try:
        msg = parse(MSH + body)
        for seg in msg.segments:
            for n in range(len(seg.fields)):
                seg.value(n, 1)
    except HL7Error:
        pass


@SETTINGS
@given(st.text(alphabet=CHARACTERS, max_size=200))
def test_escape_round_trips(text: str) -> None:
    """unescape(escape(t)) == t for any text, with or without the v2.7 truncation character."""
    for d in (Delimiters(), Delimiters(truncation="#")):
        assert unescape(escape(text, d), d) == text


@SETTINGS
@given(st.text(alphabet=CHARACTERS, max_size=80), st.sampled_from(["AA", "AE", "AR"]))
def test_ack_builder_output_parses_and_echoes(text: str, code: str) -> None:
    """Any issue text yields an ACK our parser reads back, with MSA-1, MSA-2 and the ERR intact.

    Control characters in a text become spaces: the ACK never carries one, raw or escaped.
    """
    header = read_header(parse(MSH))
    issue = Issue(Code.OTHER, Location("PID", 1, 5), text, text)
    ack = build_ack(code, header, [issue], application="HUB", facility="DSQ", control_id="A1", now=datetime(2026, 1, 1))
    msg = parse(ack)
    assert [s.id for s in msg.segments] == ["MSH", "MSA", "ERR"]
    assert (msg.segments[1].value(1), msg.segments[1].value(2)) == (code, "X")
    shown = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    assert msg.segments[2].value(8) == f"{shown} / {shown}"
