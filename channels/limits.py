"""Connection limits for a listener built by another factory (twisted.web's Site for SOAP).

The same limits as MLLP's: connections in all, connections per peer (an IPv6 address by its
/64), and no connection at all from a peer blocked for its refused attempts.
"""

from __future__ import annotations

from typing import Any

import structlog
from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from zope.interface import implementer  # type: ignore[import-untyped]

from hub.interfaces import PeerGate, peer_key

log = structlog.get_logger("passerelle.limits")


@implementer(IProtocolNegotiationFactory)
class LimitedFactory(WrappingFactory):
    """Wraps a factory; refuses (closes at once) a connection past a limit.

    It speaks for the wrapped factory in TLS's protocol negotiation (ALPN), as twisted.web's
    Site does when TLS wraps it directly.
    """

    def __init__(self, wrapped: Any, channel: str, handler: PeerGate, max_connections: int, max_per_peer: int) -> None:
        super().__init__(wrapped)  # type: ignore[no-untyped-call]
        self.channel = channel
        self.handler = handler
        self.max_connections = max_connections
        self.max_per_peer = max_per_peer
        self.per_peer: dict[str, int] = {}
        self.connections = 0
        self._keys: dict[int, str] = {}  # id(protocol) -> the peer key it counts under

    def acceptableProtocols(self) -> list[bytes]:
        """The wrapped factory's ALPN protocols, if it has any."""
        protocols = getattr(self.wrappedFactory, "acceptableProtocols", None)
        return list(protocols()) if protocols is not None else []

    def buildProtocol(self, addr: Any) -> Any:
        """The wrapped protocol, or None (the connection is closed) when a limit is reached."""
        host = str(getattr(addr, "host", addr))
        key = peer_key(host)
        if self.handler.blocked(host):
            return None
        if self.connections >= self.max_connections:
            log.warning("connection_refused", channel=self.channel, peer=host, limit="channel")
            return None
        if self.per_peer.get(key, 0) >= self.max_per_peer:
            log.warning("connection_refused", channel=self.channel, peer=host, limit="peer")
            return None
        protocol = super().buildProtocol(addr)
        if protocol is not None:
            self.connections += 1
            self.per_peer[key] = self.per_peer.get(key, 0) + 1
            self._keys[id(protocol)] = key
        return protocol

    def unregisterProtocol(self, p: ProtocolWrapper) -> None:
        """A connection closed."""
        super().unregisterProtocol(p)  # type: ignore[no-untyped-call]
        key = self._keys.pop(id(p), None)
        if key is None:
            return
        self.connections -= 1
        left = self.per_peer.get(key, 1) - 1
        if left:
            self.per_peer[key] = left
        else:
            self.per_peer.pop(key, None)
