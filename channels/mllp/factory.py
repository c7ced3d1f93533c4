"""The MLLP listener's factory: one receiver per connection, within the channel's connection limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from twisted.internet.interfaces import IAddress, IReactorTime
from twisted.internet.protocol import Factory

from hub.interfaces import MessageHandler, peer_key

from .framing import DEFAULT_LIMITS, Limits
from .receiver import MLLPReceiver

log = structlog.get_logger("passerelle.mllp")


class MLLPFactory(Factory):
    """Builds receivers for one channel and enforces its connection limits."""

    def __init__(
        self,
        channel: str,
        handler: MessageHandler,
        limits: Limits = DEFAULT_LIMITS,
        clock: IReactorTime | None = None,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor as default_reactor

            clock = default_reactor
        self.channel = channel
        self.handler = handler
        self.limits = limits
        self.clock: Any = clock  # IReactorTime
        self.connections = 0
        self.per_peer: dict[str, int] = {}

    def buildProtocol(self, addr: IAddress | None) -> MLLPReceiver | None:
        """A receiver, or None (connection closed) when a limit is reached."""
        peer = str(getattr(addr, "host", addr))
        key = peer_key(peer)
        if self.handler.blocked(peer):  # too many refused link attempts: wait for the bucket to refill
            return None
        if self.connections >= self.limits.max_connections:
            log.warning("connection_refused", channel=self.channel, peer=peer, limit="channel")
            return None
        if self.per_peer.get(key, 0) >= self.limits.max_connections_per_peer:
            log.warning("connection_refused", channel=self.channel, peer=peer, limit="peer")
            return None
        self.connections += 1
        self.per_peer[key] = self.per_peer.get(key, 0) + 1
        return MLLPReceiver(self, peer)

    def release(self, peer: str) -> None:
        """A connection closed."""
        key = peer_key(peer)
        self.connections -= 1
        left = self.per_peer.get(key, 1) - 1
        if left:
            self.per_peer[key] = left
        else:
            self.per_peer.pop(key, None)


MakeFactory = Callable[[str, MessageHandler, Limits], MLLPFactory]
