"""`make soak`: steady load on a durable hub for SOAK_SECONDS (default 1800), RSS sampled.

Prints the hub's RSS at the start (after warm-up) and at the end, the peak, and the messages
sent; the hub must stay flat. Loopback only, 8 connections, bounded by time.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench.messages import oru
from bench.processes import ROOT, start_hub
from hub.cli.client import MLLPClient, parse_ack

sys.path.insert(0, str(ROOT / "tests" / "support"))
from hostile import rss_kib  # tests/support is not a package: on the path above


def main() -> None:
    """Run the soak and print the RSS figures."""
    seconds = float(os.environ.get("SOAK_SECONDS", "1800"))
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_hub(f"sqlite:///{Path(tmp) / 'soak.db'}", Path(tmp))
        stop = time.monotonic() + seconds
        sent = [0] * 8
        per_connection: list[Counter[str]] = [Counter() for _ in range(8)]  # one each: no lost updates

        def load(c: int) -> None:
            client = MLLPClient("127.0.0.1", port)
            n = 0
            while time.monotonic() < stop:
                ack = parse_ack(client.send(oru(f"S{c}-{n}")))
                per_connection[c][ack.code] += 1
                n += 1
                sent[c] = n
            client.close()

        threads = [threading.Thread(target=load, args=(c,), daemon=True) for c in range(8)]
        for t in threads:
            t.start()
        time.sleep(min(60.0, seconds / 10))  # warm-up: caches, pools, first WAL checkpoints
        start_rss, samples = rss_kib(proc.pid), []
        while time.monotonic() < stop:
            samples.append(rss_kib(proc.pid))
            time.sleep(min(30.0, max(1.0, stop - time.monotonic())))
        for t in threads:
            t.join(30)
        end_rss = rss_kib(proc.pid)
        proc.terminate()
        proc.wait(10)
    total = sum(sent)
    codes = dict(sum(per_connection, Counter()))
    print(f"soak: {seconds:.0f} s, 8 connections, {total} messages ({total / seconds:.0f} msg/s), ACKs {codes}")
    print(f"hub RSS: start {start_rss} KiB after warm-up, end {end_rss} KiB, peak {max([*samples, end_rss])} KiB")


if __name__ == "__main__":
    main()
