"""Who is asking, from the signed request: the consulting system's JWT (PyJWT).

``Authorization: Bearer <JWT>``, signed ES256 or RS256 with one of the system's registered keys.
The claims: `iss` (the partner), `sub` (the practitioner's id in the register), `purpose_of_use`
(an HL7 PurposeOfUse code), `iat`, `exp` (at most 300 s after `iat`) and `jti` (unique: its
second use is refused, hub/consult/access.py); `reason` with an emergency purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jwt

ALGORITHMS = ("ES256", "RS256")
MAX_LIFETIME = 300  # seconds from iat to exp
LEEWAY = 30  # clock skew tolerated on iat and exp, seconds
REQUIRED = ("iss", "sub", "purpose_of_use", "iat", "exp", "jti")


class Denied(Exception):  # noqa: N818 - a decision, not a fault
    """A request refused: the HTTP status, the reason code journaled, a short bilingual text."""

    def __init__(self, status: int, code: str, text: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.text = text


@dataclass(frozen=True, slots=True)
class Claims:
    """A verified token's claims."""

    iss: str
    sub: str
    purpose: str
    iat: int
    exp: int
    jti: str
    reason: str = ""


def bearer(authorization: str) -> str:
    """The token of an ``Authorization: Bearer`` header.

    Raises:
        Denied: 401, no bearer token.
    """
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Denied(401, "no-token", "jeton absent / missing bearer token")
    return token.strip()


def issuer(token: str) -> str:
    """The `iss` claim, read before the signature is checked (to find the keys to check it with).

    Raises:
        Denied: 401, not a JWT, a disallowed algorithm, or no `iss`.
    """
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Denied(401, "bad-token", "jeton illisible / unreadable token") from None
    if header.get("alg") not in ALGORITHMS:
        raise Denied(401, "bad-algorithm", "algorithme refusé : ES256 ou RS256 / algorithm must be ES256 or RS256")
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise Denied(401, "bad-token", "jeton sans iss / token has no iss")
    return iss


def verify(token: str, keys: Sequence[str], now: float) -> Claims:
    """The claims of a token signed with one of `keys` (PEM), valid at `now` (POSIX seconds).

    Raises:
        Denied: 401 with the reason: bad-signature, token-expired, token-lifetime, bad-claims.
    """
    claims = None
    for key in keys:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                options={"require": list(REQUIRED), "verify_exp": False, "verify_iat": False, "verify_aud": False},
            )
            break
        except (jwt.InvalidSignatureError, jwt.InvalidKeyError, jwt.InvalidAlgorithmError):
            continue  # another of its keys, maybe of the other kind
        except jwt.PyJWTError:
            raise Denied(401, "bad-claims", "jeton incomplet / token claims missing or malformed") from None
    if claims is None:
        raise Denied(401, "bad-signature", "signature invalide / bad signature")
    return _checked(claims, now)


def _checked(claims: dict[str, object], now: float) -> Claims:
    iat, exp = claims["iat"], claims["exp"]
    texts = [claims[k] for k in ("iss", "sub", "purpose_of_use", "jti")]
    if not isinstance(iat, int) or not isinstance(exp, int) or not all(isinstance(t, str) and t for t in texts):
        raise Denied(401, "bad-claims", "jeton incomplet / token claims missing or malformed")
    if exp - iat > MAX_LIFETIME or exp <= iat:
        raise Denied(401, "token-lifetime", "jeton trop long : 300 s au plus / token lifetime over 300 s")
    if iat > now + LEEWAY:
        raise Denied(401, "token-future", "jeton émis dans le futur / token issued in the future")
    if exp < now - LEEWAY:
        raise Denied(401, "token-expired", "jeton expiré / token expired")
    reason = claims.get("reason")
    jti = str(claims["jti"])
    if len(jti) > 128:
        raise Denied(401, "bad-claims", "jti trop long / jti too long")
    return Claims(
        str(claims["iss"]), str(claims["sub"]), str(claims["purpose_of_use"]), iat, exp, jti,
        reason if isinstance(reason, str) else "",
    )  # fmt: skip
