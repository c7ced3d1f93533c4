"""A security event as IHE ATNA expects it, inside RFC 5424 syslog framed for TLS (RFC 5425).

The payload is a DICOM PS3.15 audit message or a FHIR AuditEvent.

Both payloads are rendered from the committed journal entry alone, so a retry sends the same
bytes. They name systems, operators and practitioners by their register ids, and a patient by the
hub's internal number: never a name, a NAM or a message body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

DCM = "DCM"
DCM_URI = "http://dicom.nema.org/resources/ontology/DCM"
LOCAL = "urn:passerelle:audit"  # the one event type DICOM's CID 403 has no code for
Code = tuple[str, str, str]  # (code, system, meaning)

SECURITY_ALERT: Code = ("110113", DCM, "Security Alert")
# kind -> (EventID, EventTypeCode or None, EventActionCode, EventOutcomeIndicator)
EVENTS: dict[str, tuple[Code, Code | None, str, str]] = {
    "link-refused": (SECURITY_ALERT, ("110126", DCM, "Node Authentication"), "E", "4"),
    "partner-cut": (SECURITY_ALERT, ("110129", DCM, "Security Configuration"), "U", "0"),
    "signin-failed": (("110114", DCM, "User Authentication"), ("110122", DCM, "Login"), "E", "4"),
    "account-locked": (SECURITY_ALERT, ("110137", DCM, "User Security Attributes Changed"), "U", "0"),
    "consult-denied": (("110110", DCM, "Patient Record"), None, "R", "4"),
    "emergency-access": (SECURITY_ALERT, ("110127", DCM, "Emergency Override Started"), "E", "0"),
    "journal-broken": (SECURITY_ALERT, ("journal-integrity", LOCAL, "Journal Integrity Failure"), "E", "8"),
}
SYSTEMS = {DCM: DCM_URI, LOCAL: LOCAL}


@dataclass(frozen=True, slots=True)
class Participant:
    """Who took part: a system (partner), an operator, a practitioner."""

    user_id: str
    requestor: bool
    address: str = ""  # an IP address, when the journal has one


@dataclass(frozen=True, slots=True)
class Subject:
    """What the event is about: a partner, an operator account, a patient, the journal."""

    object_id: str
    type_code: str  # 1 person, 2 system object
    role: str  # 1 patient, 3 report, 13 security resource
    id_type: Code


@dataclass(frozen=True, slots=True)
class Audit:
    """One security event, rendered from its journal entry."""

    seq: int
    kind: str
    at: datetime
    text: str
    participants: list[Participant] = field(default_factory=list)
    subjects: list[Subject] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Source:
    """The audit source: this hub."""

    site: str  # AuditEnterpriseSiteID: the hub's facility (config hub.facility)
    source_id: str  # AuditSourceID: the hub's application name and host
    hostname: str
    enterprise_number: int
    version: str


def audit_of(kind: str, entry: Mapping[str, Any]) -> Audit:
    """The event a journal entry records, with its participants and subjects."""
    detail = json.loads(entry.get("detail") or "{}")
    people: list[Participant] = []
    subjects: list[Subject] = []
    address = _host(entry.get("peer") or "")
    partner, operator = entry.get("partner_id") or "", entry.get("operator") or ""
    if kind == "partner-cut":
        people.append(Participant(operator or "system", True))
        subjects.append(Subject(partner, "2", "13", ("partner", LOCAL, "Partner")))
    elif kind in ("signin-failed", "account-locked"):
        people.append(Participant(operator, kind == "signin-failed", address))
        subjects.append(Subject(operator, "1", "13", ("operator", LOCAL, "Operator account")))
    elif kind == "journal-broken":
        people.append(Participant(operator or "system", True))
        subjects.append(Subject("journal", "2", "13", ("journal", LOCAL, "Hash-chained journal")))
    else:  # link-refused, consult-denied, emergency-access: a partner system asked
        people.append(Participant(partner or _sender(entry), True, address))
        if detail.get("practitioner"):
            people.append(Participant(str(detail["practitioner"]), True))
    if entry.get("patient_id") is not None:
        subjects.append(Subject(str(entry["patient_id"]), "1", "1", ("2", "RFC-3881", "Patient Number")))
    text = " ".join(part for part in (entry.get("decision") or "", entry.get("reason") or "") if part)
    return Audit(int(entry["seq"]), kind, _utc(entry["at"]), text[:500], people, subjects)


def _sender(entry: Mapping[str, Any]) -> str:
    app, facility = entry.get("sending_application") or "", entry.get("sending_facility") or ""
    return f"{app}|{facility}" if app or facility else "unknown"


def _host(peer: str) -> str:
    """The address part of a journal `peer` (``host:port``, ``[v6]:port``), or ''."""
    host = peer.rsplit(":", 1)[0] if peer.count(":") == 1 or peer.startswith("[") else peer
    return host.strip("[]")


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="microseconds").replace("+00:00", "Z")


def dicom_message(audit: Audit, source: Source) -> bytes:
    """The DICOM PS3.15 (A.5) AuditMessage, UTF-8 XML."""
    event_id, type_code, action, outcome = EVENTS[audit.kind]
    root = etree.Element("AuditMessage")
    ident = etree.SubElement(root, "EventIdentification", EventActionCode=action,
                             EventDateTime=_stamp(audit.at), EventOutcomeIndicator=outcome)  # fmt: skip
    _coded(ident, "EventID", event_id)
    if type_code is not None:
        _coded(ident, "EventTypeCode", type_code)
    if audit.text:
        etree.SubElement(ident, "EventOutcomeDescription").text = audit.text
    for p in audit.participants:
        attrs = {"UserID": p.user_id, "UserIsRequestor": "true" if p.requestor else "false"}
        if p.address:
            attrs |= {"NetworkAccessPointID": p.address, "NetworkAccessPointTypeCode": "2"}
        etree.SubElement(root, "ActiveParticipant", attrs)
    hub = etree.SubElement(root, "ActiveParticipant", UserID=source.source_id, UserIsRequestor="false",
                           NetworkAccessPointID=source.hostname, NetworkAccessPointTypeCode="1")  # fmt: skip
    _coded(hub, "RoleIDCode", ("110152", DCM, "Destination"))
    src = etree.SubElement(root, "AuditSourceIdentification", AuditEnterpriseSiteID=source.site,
                           AuditSourceID=source.source_id)  # fmt: skip
    _coded(src, "AuditSourceTypeCode", ("4", DCM, "Application Server"))
    for s in audit.subjects:
        obj = etree.SubElement(root, "ParticipantObjectIdentification", ParticipantObjectID=s.object_id,
                               ParticipantObjectTypeCode=s.type_code, ParticipantObjectTypeCodeRole=s.role)  # fmt: skip
        _coded(obj, "ParticipantObjectIDTypeCode", s.id_type)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _coded(parent: Any, tag: str, code: Code) -> None:
    etree.SubElement(parent, tag, {"csd-code": code[0], "codeSystemName": code[1], "originalText": code[2]})


def fhir_event(audit: Audit, source: Source) -> dict[str, Any]:
    """The FHIR R4 AuditEvent."""
    event_id, type_code, action, outcome = EVENTS[audit.kind]
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"journal-{audit.seq}",
        "type": _coding(event_id),
        "action": action,
        "recorded": _stamp(audit.at),
        "outcome": outcome,
        "agent": [_agent(p) for p in audit.participants],
        "source": {
            "site": source.site,
            "observer": {"display": source.source_id},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}],
        },
    }
    if type_code is not None:
        event["subtype"] = [_coding(type_code)]
    if audit.text:
        event["outcomeDesc"] = audit.text
    if audit.subjects:
        event["entity"] = [_entity(s) for s in audit.subjects]
    return event


def _coding(code: Code) -> dict[str, str]:
    return {"system": SYSTEMS.get(code[1], code[1]), "code": code[0], "display": code[2]}


def _agent(p: Participant) -> dict[str, Any]:
    agent: dict[str, Any] = {"who": {"identifier": {"value": p.user_id}}, "requestor": p.requestor}
    if p.address:
        agent["network"] = {"address": p.address, "type": "2"}
    return agent


def _entity(s: Subject) -> dict[str, Any]:
    system = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
    return {
        "what": {"identifier": {"type": {"text": s.id_type[2]}, "value": s.object_id}},
        "type": {"system": system, "code": s.type_code},
        "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": s.role},
    }


def syslog_frame(audit: Audit, source: Source, payload_format: str) -> bytes:
    """One RFC 5424 message, octet-counted for TLS (RFC 5425): ``LEN SP <85>1 … BOM payload``.

    PRI 85 is facility 10 (security/authorization) at severity 5 (notice). The structured data
    carries the journal sequence number, by which a collector can tell a resend.
    """
    if payload_format == "fhir":
        body = json.dumps(fhir_event(audit, source), ensure_ascii=False, separators=(",", ":")).encode()
        msgid = "IHE+FHIR"
    else:
        body, msgid = dicom_message(audit, source), "IHE+RFC-3881"
    sd = (
        f'[origin software="Passerelle" swVersion="{source.version}"]'
        f'[passerelle@{source.enterprise_number} seq="{audit.seq}" kind="{audit.kind}"]'
    )
    header = f"<85>1 {_stamp(audit.at)} {source.hostname[:255]} PASSERELLE - {msgid} {sd} "
    message = header.encode("ascii", "replace") + b"\xef\xbb\xbf" + body
    return str(len(message)).encode() + b" " + message
