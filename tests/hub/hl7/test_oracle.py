"""Oracle: our parser and hl7apy agree on every field of every HL7 sample in ../shared/samples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hl7apy.parser import parse_message
from shared_samples import samples

from hub.hl7 import HL7Error, decode, parse
from hub.hl7.files import split_messages

FILES = samples("hl7v2", "*/*.hl7")

# Samples our parser refuses on purpose; hl7apy would accept them. Each reason is the test's claim.
REFUSED = {
    "NEG_cdc_ti_missing_msh2.hl7": "MSH-2 empty: no encoding characters (AR 102)",
    "dcm4che_omi_o23_ipc.hl7": "UTF-8 bytes under MSH-18 8859/1 would be mojibake (AE 102)",
    "dcm4che_file_named_orm_but_msh9_omi_o23_zds.hl7": "UTF-8 bytes under MSH-18 8859/1 (AE 102)",
}
# Samples we repair (with a W): hl7apy is given the same repair, so the rest is still compared.
REPAIRED = {
    "dcm4che_oru_r01_pdf_base64_ed.hl7": "a bare CR inside an OBX-5 ED base64 value is removed (W at OBX^4^5)",
}
_BARE_CR_IN_BASE64 = re.compile(r"\r(?![A-Z][A-Z0-9]{2}\|)(?=[A-Za-z0-9+/=]+\|)")


def _ours(text: str) -> list[tuple[str, list[str]]]:
    msg = parse(text)
    return [(s.id, s.fields[1:] if s.id != "MSH" else s.fields[3:]) for s in msg.segments]


def _hl7apy(text: str) -> list[tuple[str, list[str] | None]]:
    msg = parse_message(text.replace("\n", "\r"), find_groups=False, validation_level=2)
    out: list[tuple[str, list[str] | None]] = []
    for seg in msg.children:
        if any(f.name is None for f in seg.children):
            out.append((seg.name, None))  # hl7apy has no model for this segment's fields
            continue
        fields = [""] * max((int(f.name.split("_")[1]) for f in seg.children), default=0)
        for f in seg.children:
            n = int(f.name.split("_")[1])
            fields[n - 1] = fields[n - 1] + ("~" if fields[n - 1] else "") + f.to_er7()
        out.append((seg.name, fields[2:] if seg.name == "MSH" else fields))
    return out


def _norm(fields: list[str]) -> list[str]:
    """hl7apy trims trailing separators and blank values; compare on that footing."""
    out = []
    for value in fields:
        reps = ["^".join(c.rstrip("&").strip() for c in r.split("^")).rstrip("^") for r in value.split("~")]
        out.append("~".join(reps).rstrip("~"))
    while out and out[-1] == "":
        out.pop()
    return out


# (file, segment ID, field index in our list) -> why hl7apy's value differs from what was sent.
_CWE9 = "hl7apy reads this 2.5.1 CWE as a 6-component CE and drops empty components 7-8 before the 9th"
KNOWN_DIFFS = {
    ("nist_lri_ng_cbc_BOM.hl7", "OBR", 3): _CWE9,
    ("nist_lri_ng_cbc_BOM.hl7", "OBX", 2): _CWE9,
    ("google_rde_o01_rxd_v25.hl7", "RXE", 1): _CWE9,
    ("google_rde_o01_rxd_v25.hl7", "RXD", 1): _CWE9,
    ("ms_orm_o01_ct_head_v26_BOM.hl7", "CTD", 4): "hl7apy drops the empty first XTN component",
    ("cdc_ti_CA_nbs_oru.hl7", "OBX", 4): "hl7apy writes the \\.br\\ escape back as \\E\\.br\\E\\",
    ("hapi_ihe_connectathon_eu2011_rde_o11_v26.hl7", "ORC", 22): "hl7apy shifts a 2.6 XAD value to component 18",
    ("hapi_rde_o11_digoxin_v24.hl7", "PID", 0): "hl7apy turns SI '0001' into '1'; we keep what was sent",
}
# Samples hl7apy itself can't parse: nothing to compare against.
HL7APY_FAILS = {"hapi_ras_o17_v25_zsegs.hl7": "non-standard segment ABC: hl7apy raises InvalidName"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_parser_agrees_with_hl7apy(path: Path) -> None:
    """Every segment and field value equals hl7apy's, or the sample is in REFUSED with its reason."""
    for raw in split_messages(path.read_bytes()):
        try:
            text = decode(raw).text
            ours = _ours(text)
        except HL7Error:
            assert path.name in REFUSED, f"{path.name} refused without a listed reason"
            continue
        assert path.name not in REFUSED, f"{path.name} is listed as refused but parsed"
        if path.name in HL7APY_FAILS:
            with pytest.raises(Exception, match="ABC"):
                _hl7apy(text)
            continue
        if path.name in REPAIRED:
            assert any("bare CR" in w.text_en for w in parse(text).warnings)
            text = _BARE_CR_IN_BASE64.sub("", text)
        theirs = _hl7apy(text)
        assert [s for s, _ in ours] == [s for s, _ in theirs]
        for (seg, a), (_, b) in zip(ours, theirs, strict=True):
            if b is None:
                continue
            na, nb = _norm(a), _norm(b)
            for i in range(max(len(na), len(nb))):
                va = na[i] if i < len(na) else ""
                vb = nb[i] if i < len(nb) else ""
                if va != vb:
                    assert (path.name, seg, i) in KNOWN_DIFFS, f"{path.name} {seg} field {i}: {va!r} != {vb!r}"


def test_parts_gives_every_component_as_value_does() -> None:
    """``Segment.parts(n)`` (one split) equals ``value(n, c)`` for every component of every field of every sample."""
    files = 0
    for path in FILES:
        try:
            msg = parse(decode(path.read_bytes()).text.replace("\n", "\r"))
        except HL7Error:
            continue  # refused by the parser (test_oracle_agrees says why): nothing to read
        files += 1
        for seg in msg.segments:
            for n in range(3 if seg.id == "MSH" else 1, len(seg.fields)):  # MSH-1, MSH-2: the delimiters
                parts = seg.parts(n)
                count = max(len(parts), 1) + 1  # one past the end reads "" in both
                expected = [seg.value(n, c) for c in range(1, count + 1)]
                assert expected == [*parts, *[""] * (count - len(parts))], (path.name, seg.id, n)
    assert files >= 25  # of the 33 samples, the parser refuses a few on purpose
