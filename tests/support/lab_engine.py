"""The engine and the store on one lab channel, for the tests that drive them in-process."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fakes import ack_of
from sqlalchemy import Engine, func, select

from hub.engine.intake import InlineIntake
from hub.engine.outcome import Prepared, Verdict
from hub.engine.pipeline import Pipeline
from hub.engine.policy import ChannelPolicy
from hub.engine.writer import SQLStore
from hub.governance.directory import PartnerDirectory
from hub.governance.partners import ImportReport, PartnerSpec, import_specs
from hub.interfaces import Inbound, Reply


def oru(control_id: str, status: str = "F", value: str = "5.4", charset: str = "", name: str = "Lavoie^Hélène") -> str:
    """A small ORU^R01 with one order and two observations."""
    msh18 = f"||||||{charset}" if charset else ""
    return (
        f"MSH|^~\\&|LIS|CHUM|DSQ|QC|20260101120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1{msh18}\r"
        f"PID|1||123^^^CHUM^MR~LAVH54623112^^^RAMQ^NAM||{name}||19541231|F\r"
        f"OBR|1|P1|F1^LAB|2345-7^Glucose^LN|||20260101080000|||||||||1234^Tremblay^Luc||||||20260101110000|||{status}\r"
        "NTE|1||Échantillon hémolysé\r"
        f"OBX|1|NM|2345-7^Glucose^LN||{value}|mmol/L|3.9-6.1|N|||{status}|||20260101090000\r"
        "NTE|1||Prélevé à jeun\r"
        f"OBX|2|ST|8251-1^Note^LN||cœur normal\\.br\\œdème absent||||||{status}\r"
    )


LIS_CHUM = PartnerSpec.model_validate(
    {
        "id": "sil-chum",
        "name": "SIL CHUM",
        "organization": "chum",
        "authorities": ["CHUM"],
        "category": "government",
        "domains": ["lab"],
        "product": {"name": "LabSys", "version": "4.2"},
        "identities": [{"sending_application": "LIS", "sending_facility": "CHUM"}],
    }
)


def register(engine: Engine, specs: list[PartnerSpec], operator: str = "alice") -> ImportReport:
    """Import the CHUM hospital into the organization register, then these partners."""
    from hub.registers import OrganizationSpec, import_organizations

    chum = OrganizationSpec.model_validate({"id": "chum", "name": "CHUM", "type": "hospital"})
    import_organizations(engine, [chum], operator)
    return import_specs(engine, specs, operator)


def registered_intake(engine: Engine) -> InlineIntake:
    """LIS/CHUM registered in `engine`, and an inline intake on its lab channel, as the hub builds one."""
    register(engine, [LIS_CHUM])
    directory = PartnerDirectory()
    directory.refresh(engine)
    lab = Pipeline(channels={"lab": ChannelPolicy("lab", "lab")}, directory=directory)
    return InlineIntake(lab, SQLStore(engine, directory=directory), lambda: directory.refresh(engine))


def lab_directory() -> PartnerDirectory:
    """A directory holding LIS/CHUM, a partner of the CHUM hospital, assigning the CHUM authority."""
    return PartnerDirectory.from_specs([LIS_CHUM], organization_types={"chum": "hospital"})


def pipeline() -> Pipeline:
    """A pipeline with one lab channel and one government partner, LIS/CHUM."""
    return Pipeline(channels={"lab": ChannelPolicy("lab", "lab")}, directory=lab_directory())


def send(intake: InlineIntake, raw: bytes) -> Reply | None:
    """Hand one frame to the engine and return its reply."""
    inbound = Inbound(raw, "127.0.0.1", "lab", datetime.now(UTC))
    result: list[Reply | None] = []
    intake.handle(inbound).addCallback(result.append)
    return result[0]


def send_accepted(intake: InlineIntake, control_id: str) -> Reply:
    """Send the lab ORU under `control_id` and check that it was accepted (AA or CA)."""
    reply = send(intake, oru(control_id).encode())
    assert reply is not None
    assert ack_of(reply).code in ("AA", "CA")
    return reply


def count(engine: Engine, model: type) -> int:
    """Rows in a table."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


class CountingStore(SQLStore):
    """Records the size of every batch it commits."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.batches: list[int] = []

    def commit(self, batch: Sequence[Prepared]) -> list[Verdict]:
        """Count, then commit."""
        self.batches.append(len(batch))
        return super().commit(batch)
