"""What `make bench` sends is accepted by the hub it starts: a bench of refusals would measure nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.messages import LAB_PARTNER, ORGANIZATIONS, oru, radiology, rde
from hub.config.model import Config
from hub.engine.outcome import Status
from hub.engine.pipeline import Pipeline
from hub.engine.policy import ChannelPolicy
from hub.governance.directory import PartnerDirectory
from hub.interfaces import Inbound


def test_the_bench_sender_and_messages_pass_the_pipeline() -> None:
    """The bench's config validates, and each of its messages is accepted on its domain's channel."""
    config = Config.model_validate(
        {"organizations": ORGANIZATIONS, "partners": [{**LAB_PARTNER, "domains": ["lab", "pharmacy", "imaging"]}]}
    )
    types: dict[str, str] = {o.id: str(o.type) for o in config.organizations}
    directory = PartnerDirectory.from_specs(list(config.partners), organization_types=types)
    channels = {d: ChannelPolicy(d, d) for d in ("lab", "pharmacy", "imaging")}
    pipeline = Pipeline(channels=channels, directory=directory)
    for domain, raw in (("lab", oru("B1")), ("pharmacy", rde("B2")), ("imaging", radiology("B3"))):
        prepared = pipeline.prepare(Inbound(raw, "127.0.0.1", domain, datetime.now(UTC)))
        errors = [i for i in prepared.issues if i.severity == "E"]
        assert (domain, prepared.status, errors) == (domain, Status.ACCEPTED, []), prepared.issues


def test_the_consultation_bench_config_validates() -> None:
    """The consultation row's hub config: a fhir channel, a consulting system with a key, its practitioner."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from bench.consult import _config

    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    config = Config.model_validate(_config("sqlite://", {"lab": 1, "pharmacy": 2, "imaging": 3, "fhir": 4}, pem))
    assert [c.protocol for c in config.channels] == ["mllp", "mllp", "mllp", "fhir"]
    assert [p.id for p in config.partners] == ["bench-sil-chum", "dme"]


def test_the_native_clients_messages_pass_the_pipeline_with_its_longest_control_ids() -> None:
    """The template with a run's control ID in place (prefix, connection, sequence) is accepted."""
    from bench.native import PLACEHOLDER, oru_template

    config = Config.model_validate({"organizations": ORGANIZATIONS, "partners": [LAB_PARTNER]})
    types: dict[str, str] = {o.id: str(o.type) for o in config.organizations}
    directory = PartnerDirectory.from_specs(list(config.partners), organization_types=types)
    pipeline = Pipeline(channels={"lab": ChannelPolicy("lab", "lab")}, directory=directory)
    raw = oru_template().replace(PLACEHOLDER.encode(), b"R99963-99999")
    prepared = pipeline.prepare(Inbound(raw, "127.0.0.1", "lab", datetime.now(UTC)))
    assert (prepared.status, [i for i in prepared.issues if i.severity == "E"]) == (Status.ACCEPTED, [])


def test_the_targets_table_says_met_or_missed_from_the_rows() -> None:
    """Each target reads its own row; a missing backend gives no verdict rather than a pass."""
    from bench.table import targets

    def row(server: str, connections: int, rate: float, p99: float = 5.0, cpu: float = 400.0) -> dict[str, object]:
        return {"server": server, "connections": connections, "msg_per_s": rate, "p99_ms": p99, "cpu_us": cpu}

    rows = [row("python-hl7 asyncio", 8, 1000), row("hub sqlite, 2 wkr", 8, 2600, p99=25, cpu=600),
            row("hub sqlite, 1 wkr", 1, 900)]  # fmt: skip
    verdicts = {name: met for name, _goal, _value, met in targets(rows)}
    assert verdicts["msg/s at 8 connections, SQLite, 2 workers"] is True
    assert verdicts["msg/s at 1 connection, SQLite"] is False
    assert verdicts["msg/s at 8 connections, PostgreSQL"] is None
    assert verdicts["x python-hl7 at 8 connections (best hub)"] is True
    assert verdicts["p99 ms at 8 connections (best hub)"] is False
    assert verdicts["hub CPU µs per message at 8 connections (best hub)"] is False
