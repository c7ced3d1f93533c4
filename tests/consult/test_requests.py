"""Bad requests get a precise OperationOutcome; keys are checked when declared; logs carry no NAM."""

from __future__ import annotations

import pytest
from consult_checks import last_entry
from consult_world import World
from consulting import NAM, NAM_SYSTEM, lab
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fhir_check import valid
from pydantic import ValidationError
from structlog.testing import capture_logs

from hub.governance.specs import IdentitySpec


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/Patient", (), 400),  # no identifier
        ("/Patient", (("identifier", "no-system"),), 400),
        ("/Patient", (("identifier", "a|b"), ("name", "x")), 400),
        ("/Observation", (("patient", "1"), ("subject", "1")), 400),
        ("/Encounter", (), 404),
        ("/Patient/1/$meta", (), 404),
        ("/Observation/<script>", (), 404),
        ("/Observation/xyz-1", (), 404),
        ("/MedicationRequest/rx-1/_history", (("x", "y"),), 400),
    ],
)
def test_bad_requests_are_answered_precisely(
    world: World, path: str, query: tuple[tuple[str, str], ...], status: int
) -> None:
    """Each gets its status and an OperationOutcome, and is journaled."""
    got, body = world.ask(path, world.token(), *query)
    assert got == status
    assert valid(body)["resourceType"] == "OperationOutcome"
    assert last_entry(world.engine)[0] in ("consult.denied", "consult.notfound")


def test_an_unknown_patient_id_is_no_match(world: World) -> None:
    """$everything of a patient that does not exist: 404 no-match."""
    status, body = world.ask("/Patient/999/$everything", world.token())
    assert status == 404 and body["issue"][0]["details"]["text"] == "recherche non concluante / no matching patient"


def test_logs_carry_no_nam_and_no_name(world: World) -> None:
    """A search by NAM and an $everything log channel, partner and status, never the NAM or the name."""
    reply = world.send(lab("L1", "20260115", "F1"), "lab")
    assert reply is not None and reply.code == "AA"
    with capture_logs() as logs:
        world.ask("/Patient", world.token(), ("identifier", f"{NAM_SYSTEM}|{NAM}"))
        world.ask("/Patient/1/$everything", world.token())
        world.ask("/Patient", world.token(sub="dr-lavoie"), ("identifier", f"{NAM_SYSTEM}|{NAM}"))
    assert [e["event"] for e in logs] == ["consult", "consult", "consult"]
    text = repr(logs)
    assert NAM not in text and "Lavoie" not in text and "Hélène" not in text


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_only_p256_and_rsa_2048_keys_are_taken() -> None:
    """A P-384 key, a 1024-bit RSA key and text that is no key are refused with a reason."""
    with pytest.raises(ValidationError, match="P-256"):
        IdentitySpec(public_key=_pem(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(ValidationError, match="2048"):
        IdentitySpec(public_key=_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)))  # noqa: S505 - refused on purpose
    with pytest.raises(ValidationError, match="not a PEM"):
        IdentitySpec(public_key="-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----")
    kept = IdentitySpec(public_key="\n  " + _pem(ec.generate_private_key(ec.SECP256R1())) + "  \n")
    assert kept.key()[0] == "public_key" and kept.key()[1].startswith("-----BEGIN PUBLIC KEY-----\n")
