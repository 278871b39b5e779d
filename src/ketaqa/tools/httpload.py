"""`ketaqa loadtest --api`: load `/api/ask` with Debian's `wrk`, whose own cost is small.

The gradio_client load test spends most of the 2 cores in the Python clients and Gradio's
per-event work; `wrk` (C, one thread) keeps HTTP/1.1 connections open and POSTs the curated
questions (`wrk_ask.lua`), so what is measured is the server. Loopback targets only, bounded
in time; every non-2xx answer, timeout and socket error counts as an error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ketaqa.errors import KetaqaError
from ketaqa.tools.loadtest import check_loopback

LUA_SCRIPT = Path(__file__).with_name("wrk_ask.lua")


@dataclass(frozen=True)
class WrkResult:
    connections: int
    seconds: float
    requests: int
    errors: int
    answers_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def run_wrk(
    url: str, questions: list[str], connections: int = 16, seconds: float = 60, top_k: int = 5
) -> WrkResult:
    """POST the questions to `url` (…/api/ask) from `connections` open connections."""
    check_loopback(url)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise KetaqaError("wrk is not installed: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as bodies:
        for q in questions:
            bodies.write(json.dumps({"question": q, "top_k": top_k}) + "\n")
        bodies.flush()
        cmd = [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA_SCRIPT),
            url,
            "--",
            bodies.name,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    line = next((x for x in done.stdout.splitlines() if x.startswith("KETAQA ")), None)
    if done.returncode != 0 or line is None:
        raise KetaqaError(f"wrk failed: {(done.stderr or done.stdout).strip()[:500]}")
    r = json.loads(line.removeprefix("KETAQA "))
    errors = sum(r[k] for k in ("non_2xx", "connect", "read", "write", "timeout"))
    wall = r["duration_us"] / 1e6
    return WrkResult(
        connections=connections,
        seconds=round(wall, 2),
        requests=r["requests"],
        errors=errors,
        answers_per_s=round((r["requests"] - r["non_2xx"]) / wall, 2) if wall else 0.0,
        p50_ms=round(r["p50_ms"], 1),
        p95_ms=round(r["p95_ms"], 1),
        p99_ms=round(r["p99_ms"], 1),
        max_ms=round(r["max_ms"], 1),
    )
