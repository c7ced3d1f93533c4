"""The peer: python-hl7's asyncio MLLP server, parsing each message and answering its ACK."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import hl7
from hl7.mllp import start_hl7_server


async def _client(reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter) -> None:
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while not writer.is_closing():
            message = await reader.readmessage()
            writer.writemessage(message.create_ack())
            await writer.drain()
    writer.close()


async def _main(port: int) -> None:
    async with await start_hl7_server(_client, host="127.0.0.1", port=port, encoding="utf-8") as server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1])))
