"""Certification rules on live traffic, through the real listener (channel rule set tgv-lab-2026.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from servers import Server, start_server
from sqlalchemy import create_engine, select

from hub.cli.client import Ack, MLLPClient, parse_ack
from hub.store.models import Message

pytestmark = pytest.mark.slow
OBR = "|".join(["OBR", "1", "", "F1^LAB", "2345-7^Glucose^LN", "", "", "20260101080000"] + [""] * 17 + ["F"])
GOOD_NAM = "LAVH54623112"  # Lavoie Hélène, born 1954-12-31, female (month 12 + 50)


def oru(cid: str, nam: str = GOOD_NAM, obx: str = "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-6.1|N|||F") -> bytes:
    """A lab result that passes tgv-lab unless a part is replaced."""
    return (
        f"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{cid}|P|2.5.1\r"
        f"PID|1||{nam}^^^RAMQ^NAM||Lavoie^Hélène||19541231|F\r"
        f"{OBR}\r"
        f"{obx}\r"
    ).encode()


@pytest.fixture(scope="module")
def rules_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose lab channel applies tgv-lab-2026.1."""
    tmp = tmp_path_factory.mktemp("rules")
    server = start_server(tmp, f"sqlite:///{tmp / 'rules.db'}", ruleset="tgv-lab-2026.1")
    yield server
    server.stop()


def ack_for(server: Server, data: bytes) -> Ack:
    """Send one message and parse its ACK."""
    client = MLLPClient("127.0.0.1", server.port)
    try:
        return parse_ack(client.send(data))
    finally:
        client.close()


def err(ack: Ack, index: int = 0) -> tuple[str, str, str]:
    """(ERR-2, ERR-3 code, ERR-4) of one ERR."""
    fields = ack.errors[index].split("|")
    return fields[2], fields[3].split("^")[0], fields[4]


@pytest.mark.parametrize(
    ("obx", "location", "code"),
    [
        ("OBX|1|NM|2345-7^Glucose^L||5.4|mmol/L|||||F", "OBX^1^3", "103"),  # local code only
        ("OBX|1|NM|2345-7^Glucose^LN||cinq|mmol/L|||||F", "OBX^1^5", "102"),  # NM value not numeric
        ("OBX|1|NM|2345-7^Glucose^LN||5.4||||||F", "OBX^1^6", "101"),  # NM without units
        ("OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||Q", "OBX^1^11", "103"),  # status not in table 0085
        ("OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F|||20991231", "OBX^1^14", "102"),  # in the future
    ],
    ids=["obx3-local", "nm-text", "nm-no-units", "obx11-q", "future"],
)
def test_rule_violations_get_ae_with_exact_err2_and_err3(
    rules_server: Server, obx: str, location: str, code: str
) -> None:
    """Each broken rule: AE, and an ERR at the exact location with the exact table 0357 code."""
    ack = ack_for(rules_server, oru(f"R-{location.replace('^', '.')}-{code}", obx=obx))
    assert ack.code == "AE"
    assert (location, code, "E") in [err(ack, i) for i in range(len(ack.errors))]


def test_malformed_nam_is_an_error(rules_server: Server) -> None:
    """A NAM that is not 4 letters + 8 digits with a valid date: AE 102 at PID-3."""
    ack = ack_for(rules_server, oru("NAM-BAD", nam="LAVH5462311"))
    assert ack.code == "AE"
    assert err(ack) == ("PID^1^3^1", "102", "E")


def test_nam_inconsistency_is_aa_with_a_warning_stored(rules_server: Server) -> None:
    """A well-formed NAM that disagrees with PID-5/7/8: AA with an ERR of severity W, stored."""
    ack = ack_for(rules_server, oru("NAM-WARN", nam="TREM54123112"))
    assert ack.code == "AA"
    errs = ack.errors
    (nam,) = [i for i, e in enumerate(errs) if "NAM" in e]
    assert err(ack, nam) == ("PID^1^3^1", "102", "W")
    assert "NAM inconsistent with PID-5, PID-8" in errs[nam]
    engine = create_engine(rules_server.db_url)
    with engine.connect() as conn:
        warnings = conn.execute(select(Message.warnings).where(Message.control_id == "NAM-WARN")).scalar_one()
    engine.dispose()
    assert "PID^1^3^1" in [w["location"] for w in json.loads(warnings)]


def test_a_conformant_message_is_aa_without_err(rules_server: Server) -> None:
    """The control case: the same message with nothing broken."""
    ack = ack_for(rules_server, oru("GOOD-1"))
    assert ack.code == "AA"
    assert [e for e in ack.errors if "|E|" in e] == []
