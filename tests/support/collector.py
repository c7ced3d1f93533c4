"""A syslog-over-TLS collector (RFC 5425) for the audit export tests: it can be stopped and started.

It requires a client certificate signed by its CA, as an ATNA audit record repository does,
reads octet-counted frames until the sender's close_notify, then answers with its own.
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from pki import issue, make_ca

HEADER = re.compile(
    rb"^<(?P<pri>\d+)>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<proc>\S+) (?P<msgid>\S+) "
    rb'\[origin [^\]]*\]\[passerelle@\d+ seq="(?P<seq>\d+)" kind="(?P<kind>[a-z-]+)"\] \xef\xbb\xbf'
)


def collector_pki(folder: Path) -> dict[str, Path]:
    """A CA, the collector's server certificate and the hub's client certificate, as files in `folder`."""
    ca = make_ca("audit collector CA")
    server_cert, server_key, _ = issue(ca, "collector", True, folder)
    client_cert, client_key, _ = issue(ca, "hub", False, folder)
    ca_file = folder / "ca.crt"
    ca_file.write_bytes(ca[1].public_bytes(serialization.Encoding.PEM))
    return {"ca": ca_file, "server_cert": server_cert, "server_key": server_key, "cert": client_cert,
            "key": client_key}  # fmt: skip


@dataclass(frozen=True)
class Frame:
    """One received syslog message."""

    seq: int
    kind: str
    msgid: str
    pri: int
    payload: bytes


def parse(message: bytes) -> Frame:
    """An RFC 5424 message as the hub sends it; AssertionError when it is not one."""
    m = HEADER.match(message)
    assert m, f"not an RFC 5424 message with our structured data: {message[:120]!r}"
    payload = message[m.end() :]
    return Frame(int(m["seq"]), m["kind"].decode(), m["msgid"].decode(), int(m["pri"]), payload)


def split_frames(data: bytes) -> list[bytes]:
    """Octet-counted framing (RFC 5425 §4.3): ``LEN SP MSG`` …; AssertionError on a broken frame."""
    out, at = [], 0
    while at < len(data):
        space = data.index(b" ", at)
        length = int(data[at:space])
        out.append(data[space + 1 : space + 1 + length])
        assert len(out[-1]) == length, "a truncated frame"
        at = space + 1 + length
    return out


@dataclass
class Collector:
    """Listens on `port` while started; `frames` keeps every message received, across restarts."""

    port: int
    certificate: Path
    key: Path
    ca: Path
    reset_after_first: bool = False  # misbehave: read one frame, then reset the connection
    frames: list[Frame] = field(default_factory=list)
    connections: int = 0
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Listen (again)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca))
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_cert_chain(str(self.certificate), str(self.key))
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        sock.settimeout(0.2)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, args=(sock, context), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until `start`."""
        sock, self._sock = self._sock, None
        if self._thread is not None:
            self._thread.join(5)
        if sock is not None:
            sock.close()

    def _serve(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        while self._sock is sock:
            try:
                raw, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            try:
                self._session(context, raw)
            except (OSError, ssl.SSLError):
                raw.close()

    def _session(self, context: ssl.SSLContext, raw: socket.socket) -> None:
        raw.settimeout(10)
        tls = context.wrap_socket(raw, server_side=True)
        data = b""
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
            if self.reset_after_first and b" " in data:
                space = data.index(b" ")
                end = space + 1 + int(data[:space])
                if len(data) < end:
                    continue
                with self._lock:
                    self.frames.append(parse(data[space + 1 : end]))
                # the TLS socket owns the descriptor now (wrap_socket detached `raw`): linger 0, so
                # closing it sends a reset, whether or not the hub's close_notify is in already
                tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                tls.close()
                return
        with self._lock:
            self.frames.extend(parse(m) for m in split_frames(data))
        tls.unwrap().close()

    def seqs(self) -> list[int]:
        """The journal sequence numbers received, in arrival order."""
        with self._lock:
            return [f.seq for f in self.frames]
