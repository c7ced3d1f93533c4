"""The queue to the writer is bounded, and the DICOM side spends tokens and checks the registry version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from lab_engine import oru, pipeline
from shared_samples import sample
from sqlalchemy import Engine

from hub.engine.dicom import import_dicom
from hub.engine.dicom_service import DicomService
from hub.engine.intake import GroupCommitIntake
from hub.engine.outcome import Prepared, Verdict
from hub.engine.writer import StaleDirectory
from hub.governance.directory import PartnerDirectory, Ruling
from hub.governance.limiter import RefusalLimiter
from hub.interfaces import Inbound


class _NeverCommits:
    checks_directory = False

    def commit(self, batch: Sequence[Prepared]) -> list[Verdict]:
        raise AssertionError("the writer is not started in these tests")


def test_the_queue_to_the_writer_stops_accepting_at_its_bound_and_wakes_its_waiters() -> None:
    """max_queued frames waiting: accepting() is False; below half, the waiting transports are called."""
    calls: list[object] = []
    intake = GroupCommitIntake(pipeline(), _NeverCommits(), lambda f, *a: calls.append(f), max_queued=4)
    for n in range(4):
        intake.handle(Inbound(oru(f"Q{n}").encode(), "p", "lab", datetime.now(UTC)))
    assert not intake.accepting()
    woken: list[str] = []
    intake.when_accepting(lambda: woken.append("reader"))
    assert woken == []
    for _ in range(3):
        intake._queue.get_nowait()  # the writer takes them
    assert intake.accepting()
    intake._wake()
    assert woken == ["reader"]


def test_a_refused_dicom_object_spends_a_token(engine: Engine) -> None:
    """A certificate nobody holds: refused, journaled, and the peer's bucket is one token lighter."""
    limiter = RefusalLimiter(per_minute=1, burst=2)
    directory = PartnerDirectory()
    directory.refresh(engine)
    service = DicomService(engine, directory, {"imaging": "imaging"}, limiter)
    data = sample("dicom", "CT_small.dcm").read_bytes()
    assert service._submit(data, "10.9.9.9", "imaging", "AB:CD").status == "refused"
    assert not limiter.blocked("10.9.9.9")
    assert service._submit(data, "10.9.9.9", "imaging", "AB:CD").status == "refused"
    assert limiter.blocked("10.9.9.9")


def test_a_dicom_import_decided_under_an_old_registry_version_is_decided_again(engine: Engine) -> None:
    """The import's transaction reads the registry version first: another one than the link's is stale."""
    data = sample("dicom", "CT_small.dcm").read_bytes()
    with pytest.raises(StaleDirectory):
        import_dicom(engine, data, channel="imaging", source="test", registry_mark=(-1,))
    assert Ruling(True, "allowed").mark is None
