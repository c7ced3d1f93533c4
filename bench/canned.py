"""The ceiling: a Twisted MLLP server that answers every frame with the same ACK, parsing nothing.

What Twisted and the loopback cost per message on this machine, before any HL7 work: the hub's
figures read against it.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.internet.protocol import Factory, Protocol

ACK = b"\x0bMSH|^~\\&|PASSERELLE|DSQ|LIS|CHUM|20260101120000||ACK^R01^ACK|1|P|2.5.1\rMSA|AA|1\r\x1c\r"


class Canned(Protocol):
    """One ACK per complete frame (FS CR), whatever it holds."""

    def __init__(self) -> None:
        self.buffer = b""

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        """Count the frames that ended and answer each."""
        self.buffer += data
        frames = self.buffer.count(b"\x1c\r")
        if frames:
            self.buffer = self.buffer[self.buffer.rindex(b"\x1c\r") + 2 :]
            transport: Any = self.transport
            transport.write(ACK * frames)


def main(port: int) -> None:
    """Listen on 127.0.0.1:`port` until terminated."""
    from twisted.internet import reactor as twisted_reactor

    reactor: Any = twisted_reactor
    reactor.listenTCP(port, Factory.forProtocol(Canned), interface="127.0.0.1")
    reactor.run()


if __name__ == "__main__":
    main(int(sys.argv[1]))
