"""The load generator: C connections, N messages each, one outstanding per connection (MLLP or SOAP)."""

from __future__ import annotations

import asyncio
import base64
import statistics
import time
from collections.abc import Callable

from bench.messages import oru

VT, FS, CR = b"\x0b", b"\x1c", b"\r"
Make = Callable[[str], bytes]  # a message for a control ID


async def _connection(port: int, prefix: str, count: int, latencies: list[float], make: Make = oru) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    accepted = 0
    for i in range(count):
        start = time.perf_counter()
        writer.write(VT + make(f"{prefix}-{i}") + FS + CR)
        await writer.drain()
        reply = await reader.readuntil(FS + CR)
        latencies.append(time.perf_counter() - start)
        accepted += b"MSA|AA" in reply or b"MSA|CA" in reply
    writer.close()
    await writer.wait_closed()
    return accepted


def load(
    port: int, connections: int, per_connection: int, tag: str, *, make: Make = oru, soap: bool = False
) -> dict[str, float]:
    """C connections x N messages, one outstanding per connection (MLLP, or SOAP over HTTP/1.1)."""
    latencies: list[float] = []
    one = _soap_connection if soap else _connection

    async def run() -> list[int]:
        return await asyncio.gather(
            *(one(port, f"{tag}{c}", per_connection, latencies, make) for c in range(connections))
        )

    start = time.perf_counter()
    accepted = asyncio.run(run())
    elapsed = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100)
    return {
        "messages": len(latencies),
        "accepted": sum(accepted),
        "msg_per_s": len(latencies) / elapsed,
        "p50_ms": q[49] * 1e3,
        "p90_ms": q[89] * 1e3,
        "p99_ms": q[98] * 1e3,
    }


SOAP_ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
    '<s:Body><p:SubmitHL7 xmlns:p="urn:passerelle:hl7:v1"><p:messageBase64>{}</p:messageBase64>'
    "</p:SubmitHL7></s:Body></s:Envelope>"
)


async def _soap_connection(port: int, prefix: str, count: int, latencies: list[float], make: Make = oru) -> int:
    """One keep-alive HTTP/1.1 connection posting SubmitHL7 envelopes, one at a time."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    accepted = 0
    for i in range(count):
        body = SOAP_ENVELOPE.format(base64.b64encode(make(f"{prefix}-{i}")).decode()).encode()
        head = (
            f"POST /hl7 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/xml; charset=utf-8\r\n"
            f'SOAPAction: "urn:passerelle:hl7:v1#SubmitHL7"\r\nContent-Length: {len(body)}\r\n\r\n'
        )
        start = time.perf_counter()
        writer.write(head.encode() + body)
        await writer.drain()
        headers = await reader.readuntil(b"\r\n\r\n")
        length = int(headers.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        reply = await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        accepted += b"<p:ackCode>AA</p:ackCode>" in reply or b"<p:ackCode>CA</p:ackCode>" in reply
    writer.close()
    await writer.wait_closed()
    return accepted
