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
