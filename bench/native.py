"""The native MLLP load generator (bench/loadgen.c): build it with the system compiler, run it, read its JSON.

The C program sends a template message over C connections, one outstanding message each, and
replaces every `PLACEHOLDER` in it with the message's own control ID (`<prefix><connection>-<seq>`),
so its client costs far less CPU per message than the asyncio generator of bench/load.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TypedDict, cast

from bench.messages import oru

SOURCE = Path(__file__).with_name("loadgen.c")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "var" / "bench" / "loadgen"
CFLAGS = ["-O2", "-Wall", "-Wextra", "-Werror", "-pthread"]
PLACEHOLDER = "@@CID@@@"  # 8 bytes; each message gets its control ID in its place (any length)


class Result(TypedDict):
    """The generator's JSON: measured messages (answered ones; errors apart), latencies in ms."""

    connections: int
    messages: int
    seconds: float
    msg_per_s: float
    p50_ms: float | None  # None when no measured message was answered
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    errors: int
    negative: dict[str, int]  # AE, AR, CE, CR: only the codes seen
    client_cpu_us_per_msg: float


def build(out_dir: Path = DEFAULT_OUT) -> Path:
    """Compile bench/loadgen.c into `out_dir`/loadgen, unless the binary is newer than the source.

    Raises:
        RuntimeError: no `cc` on PATH, or the compiler's error output when it fails.
    """
    binary = out_dir / "loadgen"
    if binary.exists() and binary.stat().st_mtime >= SOURCE.stat().st_mtime:
        return binary
    cc = shutil.which("cc")
    if cc is None:
        raise RuntimeError("cannot build the native load generator: no `cc` on PATH")
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f".loadgen.{os.getpid()}.tmp"  # renamed into place: concurrent builds never see half a file
    command = [cc, *CFLAGS, "-o", str(partial), str(SOURCE)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"{cc} failed to compile {SOURCE} (exit {proc.returncode}):\n{proc.stderr.strip()}")
    partial.replace(binary)
    return binary


def run(
    binary: Path,
    port: int,
    connections: int,
    messages: int,
    template: bytes,
    *,
    warmup: int = 20,
    prefix: str = "L",
    host: str = "127.0.0.1",
    timeout_ms: int = 10_000,
    timeout: float = 600.0,
) -> Result:
    """Run the generator: `messages` in all, split over `connections`, after `warmup` per connection.

    `timeout_ms` bounds each reply; `timeout` (seconds) the whole run. Control IDs are
    `<prefix><connection>-<seq>`: give each run against the same hub its own prefix.

    Raises:
        RuntimeError: the generator exited non-zero, printed no JSON, or ran past `timeout`.
    """
    with tempfile.NamedTemporaryFile(prefix="loadgen-", suffix=".hl7") as file:
        file.write(template)
        file.flush()
        args = [str(binary), "--host", host, "--port", str(port), "--connections", str(connections)]
        args += ["--messages", str(messages), "--warmup", str(warmup), "--prefix", prefix]
        args += ["--template", file.name, "--timeout-ms", str(timeout_ms)]
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{binary} ran past {timeout} s") from exc
    if proc.returncode != 0:
        raise RuntimeError(f"{binary} exited {proc.returncode}: {proc.stderr.strip()}")
    try:
        return cast(Result, json.loads(proc.stdout))
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"{binary} printed no JSON: {proc.stdout!r}") from exc


def oru_template() -> bytes:
    """The lab message of `bench.messages.oru` with `PLACEHOLDER` wherever its control ID goes.

    That is MSH-10 and the order numbers of ORC-2/3 and OBR-2/3 (`P<id>`, `F<id>`). Its PID-3,
    derived from the control ID (one of 500 patients), is fixed here: the placeholder's patient.
    """
    return oru(PLACEHOLDER)
