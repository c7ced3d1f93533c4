"""A cut is in force from the first commit after it, even when another thread refreshed the directory."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lab_engine import LIS_CHUM, oru, register
from sqlalchemy import Engine

from hub.engine.pipeline import Pipeline
from hub.engine.policy import ChannelPolicy
from hub.engine.writer import SQLStore, StaleDirectory
from hub.governance.directory import PartnerDirectory
from hub.governance.partners import change_state
from hub.interfaces import Inbound


def test_a_batch_authorized_before_a_cut_is_prepared_again(engine: Engine) -> None:
    """Prepared under the registry as it was, committed after a cut that another thread loaded: refused."""
    register(engine, [LIS_CHUM])
    directory = PartnerDirectory()
    directory.refresh(engine)
    pipeline = Pipeline(channels={"lab": ChannelPolicy("lab", "lab")}, directory=directory)
    prepared = pipeline.prepare(Inbound(oru("R1").encode(), "p", "lab", datetime.now(UTC)))
    assert prepared.partner_id == LIS_CHUM.id and prepared.registry_mark is not None
    change_state(engine, LIS_CHUM.id, "cut", "alice", "ends the contract")
    assert directory.refresh(engine)  # another thread (a DICOM import, say) loads the cut meanwhile
    with pytest.raises(StaleDirectory):
        SQLStore(engine, directory=directory).commit([prepared])
    again = pipeline.prepare(Inbound(oru("R1").encode(), "p", "lab", datetime.now(UTC)))
    assert (again.status.value, again.decision) == ("refused", "cut")
