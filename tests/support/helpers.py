"""Plain helpers the test modules share (importable because pytest puts tests/ on the path)."""

from __future__ import annotations


def obr(status: str = "F", filler: str = "F1") -> str:
    """An OBR with OBR-25 result status set."""
    return "|".join(
        ["OBR", "1", "", f"{filler}^LAB", "2345-7^Glucose^LN", "", "", "20260101080000"] + [""] * 17 + [status]
    )


def lab_message(cid: str, app: str = "LIS", fac: str = "CHUM") -> bytes:
    """A lab result that passes tgv-lab-2026.1, from (MSH-3, MSH-4), with control ID `cid`."""
    return (
        f"MSH|^~\\&|{app}|{fac}|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{cid}|P|2.5.1\r"
        f"PID|1||P1^^^CHUM^MR||Test^Lab||19700101|F\r{obr()}\r"
        "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F\r"
    ).encode()


# What each lab sample gets on the default production channel (processing_ids [P]); the README
# lists the same table with the reasons.
LAB_EXPECTED = {
    "athena_lri_amylase_LF.hl7": ["CR"],  # MSH-11 D: AR 202, enhanced mode (MSH-15 AL)
    "cdc_ti_CA_nbs_oru.hl7": ["AR"],  # MSH-11 D
    "cdc_ti_TN_nbs_oru_lri.hl7": ["CR"],  # MSH-11 D, enhanced mode
    "cdc_ti_epic_mayo_oru_v23.hl7": ["AR"],  # a private partner without a certificate: link refused
    "cdc_ti_oru_micro_sign_utf8.hl7": ["AR"],  # MSH-11 N is not in table 0103
    "cerner_elr_lead.hl7": ["AA"],
    "elr_usrealm_campylobacter.hl7": ["CE"],  # tgv-lab: PV2-24 (IS) longer than 20
    "elr_usrealm_hepatitis_c.hl7": ["CE"],  # tgv-lab: OBX-10 not in table 0080, OBX-11 empty
    "google_simhospital_oru_ue.hl7": ["CR"],  # MSH-11 T
    "hapi_hl7std_oml_oul_orl_multi.hl7": ["AR"] * 8 + ["--", "CR", "AE", "AE", "AR"],  # ORL^O34 holds MSA: no ACK
    "mirth_oru_cbc_v23.hl7": ["AE"],  # tgv-lab: ORC-7 required in v2.3, OBX-3 local codes only
    "nist_elr251_testcase1_lead.hl7": ["AA"],
    "nist_elr251_testcase4.hl7": ["AA"],
    "nist_elr251_testcase6.hl7": ["AA"],
    "nist_lri_ng_cbc_BOM.hl7": ["CR"],  # MSH-11 T
}
