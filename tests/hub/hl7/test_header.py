"""The MSH header's own ``__init__``.

Header writes it (hub/hl7/header.py): it must stay the frozen dataclass it declares, field for field.
"""

from __future__ import annotations

import dataclasses

import pytest

from hub.hl7 import parse
from hub.hl7.delimiters import Delimiters
from hub.hl7.header import Header, read_header

D = parse("MSH|^~\\&|A|B|C|D|20260101||ACK|1|P|2.5.1\r").d


def _values() -> dict[str, object]:
    """A distinct value for each field, the delimiters first."""
    return {f.name: (D if f.name == "d" else f"<{f.name}>") for f in dataclasses.fields(Header)}


def test_every_field_is_taken_by_keyword_into_its_own_attribute() -> None:
    """Each keyword lands in its own field; none is left out or optional."""
    values = _values()
    header = Header(**values)  # type: ignore[arg-type]
    assert {f.name: getattr(header, f.name) for f in dataclasses.fields(Header)} == values
    assert isinstance(header.d, Delimiters)
    for name in values:
        with pytest.raises(TypeError):
            Header(**{k: v for k, v in values.items() if k != name})  # type: ignore[arg-type]


def test_it_stays_frozen_hashable_and_replaceable() -> None:
    """Assignment is refused, equal headers hash alike, and `replace` (the ACK builder's) copies."""
    header = Header(**_values())  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        header.control_id = "changed"  # type: ignore[misc]
    assert header == Header(**_values())  # type: ignore[arg-type]
    assert hash(header) == hash(Header(**_values()))  # type: ignore[arg-type]
    blank = dataclasses.replace(header, control_id="")
    assert blank.control_id == ""
    assert header.control_id == "<control_id>"
    assert dataclasses.replace(blank, control_id="<control_id>") == header


def test_read_header_fills_each_field_from_its_msh_field() -> None:
    """read_header goes through the written ``__init__``: every MSH field in its place."""
    msg = parse(
        "MSH|^~\\&|LAB^1.2^ISO|HOSP|DSQ|QC|20260301120000||ORU^R01^ORU_R01|CTRL-9|P^T|2.5.1"
        "|||AL|NE||8859/1~UNICODE UTF-8\r"
    )
    h = read_header(msg)
    assert (h.sending_application, h.sending_facility) == ("LAB^1.2^ISO", "HOSP")
    assert (h.receiving_application, h.receiving_facility) == ("DSQ", "QC")
    assert (h.timestamp, h.message_code, h.trigger_event, h.structure) == ("20260301120000", "ORU", "R01", "ORU_R01")
    assert (h.control_id, h.processing_id, h.version) == ("CTRL-9", "P", "2.5.1")
    assert (h.accept_ack, h.application_ack, h.charset) == ("AL", "NE", "8859/1")
    assert h.d is msg.d
