"""ACK building: original mode (AA/AE/AR) and enhanced mode (CA/CE/CR).

The ACK answers in the sender's version and encoding characters, swaps sender and receiver,
and carries one ERR segment per issue. For v2.5 and later ERR-2/3/4/8 are used; before v2.5
the ERR-1 composite and MSA-3 are, as those versions define.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime

from .delimiters import Delimiters
from .errors import CODE_TEXT, Issue
from .escape import escape
from .header import Header

ORIGINAL = {"accepted": "AA", "error": "AE", "rejected": "AR"}
ENHANCED = {"accepted": "CA", "error": "CE", "rejected": "CR"}
DEFAULT_VERSION = "2.5.1"


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (2, 5, 1)


def ack_code(outcome: str, header: Header | None) -> str | None:
    """The MSA-1 code for an outcome ("accepted", "error", "rejected"), or None for no ACK.

    Enhanced mode (MSH-15/16 valued) answers with an accept ACK according to MSH-15 (table
    0155: AL always, NE never, ER on error/reject only, SU on success only). When MSH-15 asks
    for none, the application ACK of MSH-16 is sent on the same connection under the same
    conditions; when neither asks, nothing is sent.
    """
    if header is None or not header.enhanced:
        return ORIGINAL[outcome]
    success = outcome == "accepted"
    if _wanted(header.accept_ack, success):
        return ENHANCED[outcome]
    if _wanted(header.application_ack, success):
        return ORIGINAL[outcome]
    return None


def _wanted(condition: str, success: bool) -> bool:
    cond = condition.upper() or "AL"
    return cond == "AL" or (cond == "ER" and not success) or (cond == "SU" and success)


def build_ack(
    code: str,
    header: Header | None,
    issues: Sequence[Issue],
    *,
    application: str,
    facility: str,
    control_id: str,
    now: datetime,
    ascii_only: bool = False,
) -> str:
    """Build the ACK text (CR-terminated segments).

    Args:
        code: MSA-1 (AA, AE, AR, CA, CE, CR).
        header: the inbound header, or None when the inbound MSH could not be read.
        issues: one ERR segment each, errors and warnings mixed.
        application: this hub's MSH-3 when the inbound MSH-5 is empty.
        facility: this hub's MSH-4 when the inbound MSH-6 is empty.
        control_id: the ACK's own MSH-10.
        now: MSH-7.
        ascii_only: fold accents in texts (for an ASCII message).
    """
    d = header.d if header else Delimiters()
    version = header.version if header and header.version else DEFAULT_VERSION
    modern = _version_key(version) >= (2, 5)
    fs = d.field
    msa2 = header.control_id if header else ""
    msh = _msh(header, d, version, application=application, facility=facility, control_id=control_id, now=now)
    segments = [fs.join(msh)]
    msa = ["MSA", code, msa2]
    errors = [i for i in issues if i.severity == "E"]
    if errors and not modern:
        msa.append(_text(errors[0].text, d, ascii_only)[:80])
    segments.append(fs.join(msa))
    for issue in issues:
        segments.append(_err(issue, d, modern, ascii_only))
    return "\r".join(segments) + "\r"


def _msh(
    header: Header | None,
    d: Delimiters,
    version: str,
    *,
    application: str,
    facility: str,
    control_id: str,
    now: datetime,
) -> list[str]:
    """The ACK's MSH fields: sender and receiver swapped, the inbound event and charset echoed."""
    if header:
        sender = [header.receiving_application or application, header.receiving_facility or facility]
        receiver = [header.sending_application, header.sending_facility]
        event, processing, charset = header.trigger_event, header.processing_id or "P", header.charset
    else:
        sender, receiver, event, processing, charset = [application, facility], ["", ""], "", "P", ""
    msg_type = "ACK"  # MSH-9: ACK^<event>^ACK (the structure component exists from v2.3.1)
    if event:
        parts = ["ACK", event, "ACK"] if _version_key(version) >= (2, 3, 1) else ["ACK", event]
        msg_type = d.component.join(parts)
    msh = ["MSH", d.msh2, *sender, *receiver, now.strftime("%Y%m%d%H%M%S"), "", msg_type, control_id]
    msh += [processing, version]
    if charset:
        msh += ["", "", "", "", "", charset]
    return msh


def _err(issue: Issue, d: Delimiters, modern: bool, ascii_only: bool) -> str:
    fs, cs, ss = d.field, d.component, d.subcomponent
    loc = issue.location.parts()
    code_text = CODE_TEXT[issue.code]
    if not modern:
        # ERR-1 (ELD): segment ID ^ sequence ^ field position ^ code (CE as subcomponents)
        eld = cs.join([*loc[:3], ss.join([str(issue.code.value), code_text, "HL70357"])])
        return fs.join(["ERR", eld])
    err2 = cs.join(loc).rstrip(cs)
    err3 = cs.join([str(issue.code.value), code_text, "HL70357"])
    text = _text(issue.text, d, ascii_only)
    return fs.join(["ERR", "", err2, err3, issue.severity, "", "", "", text])


def _text(text: str, d: Delimiters, ascii_only: bool) -> str:
    """An ERR text: control characters become spaces (a text may quote a sender's value), then escaped."""
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    if ascii_only:
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        text = text.encode("ascii", "replace").decode("ascii")
    return escape(text, d)
