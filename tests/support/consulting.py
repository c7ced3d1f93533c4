"""A consultation world for the tests: registers, messages with dates, signed requests.

The same partners and practitioners serve the in-process tests (a `Consult` on the test's own
database) and the end-to-end ones (a subprocess hub with a fhir channel).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

NAM = "LAVH54623112"  # Lavoie, Hélène, born 1954-12-31, F
NAM_SYSTEM = "https://fhir.infoway-inforoute.ca/NamingSystem/ca-qc-health-insurance-number"


@dataclass(frozen=True)
class Keys:
    """A consulting system's key pair, as PEM text."""

    private: str
    public: str


def ec_keys() -> Keys:
    """A fresh EC P-256 key pair (ES256)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _pem(key)


def rsa_keys() -> Keys:
    """A fresh RSA 2048 key pair (RS256)."""
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _pem(key: Any) -> Keys:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return Keys(private, public)


def token(keys: Keys, iss: str, sub: str, purpose: str = "TREAT", **claims: Any) -> str:
    """A signed request token: ES256 for an EC key, RS256 for an RSA one; `claims` override the defaults."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": iss,
        "sub": sub,
        "purpose_of_use": purpose,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
    }
    body |= claims
    body = {k: v for k, v in body.items() if v is not None}
    algorithm = "ES256" if _is_ec(keys) else "RS256"
    return jwt.encode(body, keys.private, algorithm=algorithm)


def _is_ec(keys: Keys) -> bool:
    return isinstance(serialization.load_pem_private_key(keys.private.encode(), None), ec.EllipticCurvePrivateKey)


ORGANIZATIONS = [
    {"id": "clinique-lac", "name": "Clinique médicale du Lac", "type": "clinic"},
    {"id": "assureur-x", "name": "Assurances X", "type": "clinic"},
    {"id": "ramq", "name": "Régie de l'assurance maladie du Québec", "type": "government-system"},
]


def consulting_partner(pid: str, keys: Keys, category: str = "government", **extra: Any) -> dict[str, Any]:
    """A consulting system of the clinic (the `consultation` domain), identified by its key."""
    return {
        "id": pid,
        "name": f"DMÉ {pid}",
        "organization": extra.pop("organization", "clinique-lac"),
        "category": category,
        "domains": extra.pop("domains", ["consultation"]),
        "product": {"name": "DME-Lac", "version": "3.1"},
        "identities": [{"public_key": keys.public}, *extra.pop("identities", [])],
        **extra,
    }


SENDER = {
    "id": "sil-chum",
    "name": "SIL CHUM",
    "organization": "chum",
    "authorities": ["CHUM"],
    "category": "government",
    "domains": ["lab", "pharmacy", "imaging"],
    "product": {"name": "LabSys", "version": "4.2"},
    "identities": [{"sending_application": "LIS", "sending_facility": "CHUM"}],
}


def practitioner(pid: str, licence: str, orgs: list[str], **extra: Any) -> dict[str, Any]:
    """A practitioner of the register."""
    return {
        "id": pid,
        "licence": licence,
        "order": "CMQ",
        "family": extra.pop("family", "Bouchard"),
        "given": extra.pop("given", "Marie"),
        "profession": "médecin",
        "organizations": orgs,
        **extra,
    }


PRACTITIONERS = [
    practitioner("dr-bouchard", "20001", ["clinique-lac"]),
    practitioner("dr-roy", "20002", ["chum"], family="Roy", given="Paul"),
    practitioner("dr-lavoie", "20003", ["clinique-lac"], family="Lavoie", given="Hélène", nam=NAM),
    practitioner("dr-absent", "20004", ["clinique-lac"], state="suspended"),
    practitioner("agent-ramq", "90001", ["ramq"], family="Côté", given="Julie"),
]

_PID = f"PID|1||123^^^CHUM^MR~{NAM}^^^RAMQ^NAM||Lavoie^Hélène||19541231|F\r"


def lab(
    cid: str, day: str, filler: str, *, code: str = "2345-7^Glucose^LN", value: str = "5.4", status: str = "F"
) -> str:
    """An ORU^R01 from LIS/CHUM: one order collected on `day` (YYYYMMDD), one numeric result, French notes."""
    return (
        f"MSH|^~\\&|LIS|CHUM|DSQ|QC|{day}120000||ORU^R01^ORU_R01|{cid}|P|2.5.1\r"
        + _PID
        + f"OBR|1|P{filler}|{filler}^LAB|{code}|||{day}080000||||||||||||||||||F\r"
        "NTE|1||Échantillon prélevé à jeun, hémolyse légère\r"
        f"OBX|1|NM|{code}||{value}|mmol/L|3.9-6.1|H|||{status}|||{day}090000\r"
        "NTE|1||Résultat vérifié ; répéter à jeun\r"
    )


def dispense(cid: str, day: str, din: str = "00056057", system: str = "DIN", rx: str = "RX100") -> str:
    """An RDS^O13 from LIS/CHUM: prescription `rx` dispensed on `day`."""
    drug = f"{din}^Amoxicilline 500 mg^{system}"
    rxe = ["RXE", "^BID", drug, "1", "", "CAP^capsule", "CAP^capsule", "", "", "", "20", "CAP^capsule", "2"]
    rxd = ["RXD", "1", drug, f"{day}100000", "20", "CAP^capsule", "CAP^capsule", rx, "1"]
    return (
        f"MSH|^~\\&|LIS|CHUM|DSQ|QC|{day}090000||RDS^O13^RDS_O13|{cid}|P|2.5\r"
        + _PID
        + f"ORC|RE|{rx}^LIS|||||||{day}085500\r"
        + "|".join(rxe)
        + "\r"
        + "|".join(rxd)
        + "\rRXR|PO^orale\r"
    )


def imaging_report(cid: str, day: str, accession: str = "ACC-1") -> str:
    """A radiology ORU^R01 from LIS/CHUM with its report text in French."""
    obr = ["OBR", "1", "", "R1^RIS", "24627-2^TDM thorax^LN", "", "", f"{day}080000"] + [""] * 10 + [accession]
    obr += [""] * 6 + ["F"]
    return (
        f"MSH|^~\\&|LIS|CHUM|DSQ|QC|{day}120000||ORU^R01^ORU_R01|{cid}|P|2.5.1\r"
        + _PID
        + "|".join(obr)
        + "\rOBX|1|FT|18782-3^Impression^LN||Poumons clairs.\\.br\\Aucune lésion décelée.||||||F\r"
    )


def _msh(cid: str, kind: str, version: str = "2.5.1") -> str:
    return f"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260110090000||{kind}|{cid}|P|{version}\r" + _PID


def imaging_order(cid: str, accession: str = "ACC-1", study_uid: str = "1.2.3.4.5") -> str:
    """An OMI^O23 from LIS/CHUM: a CT ordered on 2026-01-10, its accession and study UID in IPC."""
    return (
        _msh(cid, "OMI^O23^OMI_O23") + "ORC|NW|PO1^LIS|FO1^RIS||SC|||||||9001^Roy^Paul\r"
        "TQ1|||||||20260110091000\r"
        "OBR|1|PO1^LIS|FO1^RIS|24627-2^TDM thorax^LN\r"
        f"IPC|{accession}|RP1|{study_uid}|SPS1|CT|24627-2^TDM thorax^LN\r"
    )


def report_with_pdf(cid: str, pdf: bytes, accession: str = "ACC-1") -> str:
    """A radiology ORU^R01 whose OBX-5 is an encapsulated PDF (ED, Base64)."""
    import base64

    obr = ["OBR", "1", "", "R2^RIS", "24627-2^TDM thorax^LN", "", "", "20260111080000"] + [""] * 10 + [accession]
    obr += [""] * 6 + ["F"]
    encoded = base64.b64encode(pdf).decode()
    return (
        _msh(cid, "ORU^R01^ORU_R01")
        + "|".join(obr)
        + f"\rOBX|1|ED|18748-4^Rapport^LN||^Application^PDF^Base64^{encoded}||||||F\r"
    )


def order(cid: str, rx: str = "RX300") -> str:
    """An RDE^O11 from LIS/CHUM: a new prescription ordered on 2026-01-12."""
    rxe = ["RXE", "^BID", "02242903^Metformine 500 mg^DIN", "1", "", "TAB^comprimé", "TAB^comprimé", "", "", ""]
    rxe += ["60", "TAB^comprimé", "3"]
    return (
        _msh(cid, "RDE^O11^RDE_O11", "2.5")
        + f"ORC|NW|{rx}^LIS|||||||20260112085500|||9001^Roy^Paul\r"
        + "|".join(rxe)
        + "\rRXR|PO^orale\r"
    )


def administration(cid: str, rx: str = "RX300") -> str:
    """An RAS^O17 from LIS/CHUM: one dose of the prescription given on 2026-01-13."""
    return (
        _msh(cid, "RAS^O17^RAS_O17", "2.5") + f"ORC|RE|{rx}^LIS\r"
        "RXA|0|1|20260113080000||02242903^Metformine 500 mg^DIN|500|mg\r"
    )
