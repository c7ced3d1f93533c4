"""A consulting system's side of the FHIR channel: make a signing key, sign a request, read the answer.

    python docs/examples/consult.py keygen var/dme.pem        # writes the private key, prints the public one
    python docs/examples/consult.py get --key var/dme.pem --iss dme-lac --sub dr-bouchard \\
        "Patient?identifier=https://fhir.infoway-inforoute.ca/NamingSystem/ca-qc-health-insurance-number|LAVH54623112"

Each request gets a fresh token: ES256 (EC P-256 key) or RS256 (RSA key), iat now, exp 120 s
later, a random jti. Over TLS, --cert/--client-key give the system's certificate and --ca the
hub's CA. It prints the HTTP status on standard error and the FHIR JSON on standard output.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def keygen(path: Path) -> None:
    """Write a new EC P-256 private key to `path` (owner-only) and print its public key."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    print(public.decode("ascii"), end="")


def sign(key_file: Path, iss: str, sub: str, purpose: str, reason: str = "") -> str:
    """A token for one request."""
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    algorithm = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    now = int(time.time())
    claims = {"iss": iss, "sub": sub, "purpose_of_use": purpose, "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex}
    if reason:
        claims["reason"] = reason
    return jwt.encode(claims, key, algorithm=algorithm)  # type: ignore[arg-type]


def get(args: argparse.Namespace) -> int:
    """GET one path below the base; 0 for a 2xx answer."""
    token = sign(args.key, args.iss, args.sub, args.purpose, args.reason)
    url = f"{args.base.rstrip('/')}/{args.path.lstrip('/')}"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - the base is the user's own
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=args.ca)
        if args.cert:
            context.load_cert_chain(args.cert, args.client_key)
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:  # noqa: S310
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    print(status, file=sys.stderr)
    print(json.dumps(json.loads(body), ensure_ascii=False, indent=2))
    return 0 if 200 <= status < 300 else 1


def main() -> int:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("keygen", help="write a private key, print its public key")
    make.add_argument("file", type=Path)
    ask = commands.add_parser("get", help="sign and send one GET")
    ask.add_argument("path", help="below the base, e.g. Patient/1/$everything")
    ask.add_argument("--key", type=Path, required=True, help="the system's private key (PEM)")
    ask.add_argument("--iss", required=True, help="the consulting system's partner id")
    ask.add_argument("--sub", required=True, help="the practitioner's id in the register")
    ask.add_argument("--purpose", default="TREAT", help="HL7 PurposeOfUse (default TREAT)")
    ask.add_argument("--reason", default="", help="why, with ETREAT")
    ask.add_argument("--base", default="http://127.0.0.1:8080/fhir")
    ask.add_argument("--ca", help="the hub's CA certificate (https)")
    ask.add_argument("--cert", help="the system's TLS certificate (https)")
    ask.add_argument("--client-key", help="its key (https)")
    args = parser.parse_args()
    if args.command == "keygen":
        keygen(args.file)
        return 0
    return get(args)


if __name__ == "__main__":
    sys.exit(main())
