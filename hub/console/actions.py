"""What the console changes: partners' states (admins), and reprocessing an attempt (operators).

Each action is journaled with the operator. Reprocessing runs an attempt's bytes (a stored
message's, or the first 64 KiB a refused attempt keeps) through today's pipeline as a new
attempt: the original entry is never changed; the new one is what the pipeline decides, dedupe
included (the same MSH-3, MSH-4, MSH-10 is a resend), and a `console.reprocess` entry links the
two.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, select
from twisted.internet.threads import blockingCallFromThread

from hub.governance.journal import ChainWriter
from hub.governance.partners import RegistryError, change_state
from hub.interfaces import Inbound, MessageHandler, Reply
from hub.store.models import JournalEntry, Message

journal = cast(Table, JournalEntry.__table__)
messages = cast(Table, Message.__table__)
PARTNER_ACTIONS = ("approve", "suspend", "cut")


def partner_action(engine: Engine, partner_id: str, action: str, form: dict[str, str], operator: str) -> str:
    """Apply an admin's partner action; the new state.

    Raises:
        RegistryError: no reason, a cut whose partner id was not typed again, or the registry's refusal.
    """
    if action not in PARTNER_ACTIONS:
        raise RegistryError("unknown action")
    if action == "cut" and form.get("confirm", "").strip() != partner_id:
        raise RegistryError("pour couper, retaper l'identifiant du partenaire / to cut, type the partner id again")
    return change_state(engine, partner_id, action, operator, form.get("reason", ""))


def attempt_bytes(engine: Engine, entry_id: int) -> tuple[Any, bytes | None]:
    """The journal entry and the bytes it can be reprocessed from (None: nothing kept)."""
    with engine.connect() as conn:
        row = conn.execute(select(journal).where(journal.c.id == entry_id)).first()
        if row is None:
            return None, None
        if row.message_id is not None:
            raw = conn.execute(select(messages.c.raw).where(messages.c.id == row.message_id)).scalar()
            return row, raw
        return row, row.raw if row.raw and len(row.raw) == row.size else None


def replay(row: Any, raw: bytes, operator: str, now: datetime) -> Inbound:
    """The attempt as it came, to run again: its channel, and the certificate its TLS peer presented."""
    detail = json.loads(row.detail) if row.detail and row.detail.startswith("{") else {}
    return Inbound(raw, f"console:{operator}", row.channel, now, tls_fingerprint=detail.get("tls_fingerprint", ""))


def reprocess(
    engine: Engine,
    intake: MessageHandler,
    reactor: Any,
    entry_id: int,
    *,
    operator: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Reply | None:
    """Run one attempt again through the pipeline (from the console's thread); the reply it got.

    Raises:
        RegistryError: no such entry, or it kept no whole bytes to run again.
    """
    row, raw = attempt_bytes(engine, entry_id)
    if row is None or raw is None:
        raise RegistryError("rien à retraiter : octets non conservés / nothing to reprocess: bytes not kept")
    inbound = replay(row, raw, operator, clock())
    handle: Any = intake.handle  # twisted's stubs can't type a Deferred-returning callable here
    reply: Reply | None = blockingCallFromThread(reactor, handle, inbound)
    code = reply.code.value if reply is not None else ""
    with engine.begin() as conn:
        chain = ChainWriter(conn)
        chain.append({
            "at": clock(), "status": "console.reprocess", "channel": row.channel, "operator": operator,
            "sha256": row.sha256, "size": row.size, "control_id": row.control_id,
            "reason": f"entry {entry_id} reprocessed: {code or 'no answer'}",
            "detail": json.dumps({"reprocess_of": entry_id, "ack_code": code}, sort_keys=True),
        })  # fmt: skip
        chain.close()
    return reply
