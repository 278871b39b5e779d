"""`ketaqa loadtest`: concurrent `gradio_client` users asking the app, on this machine only.

Each client loops over the curated questions until the time is up (bounded in count and time,
it stops by itself), and the run reports throughput, latency percentiles and every error.
Only loopback addresses are accepted as targets. `ketaqa loadtest` (in `ketaqa.apps`) starts
the app when no URL is given and writes the result.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

from ketaqa.errors import InputError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_REQUESTS_PER_CLIENT = 100_000


@dataclass(frozen=True)
class LoadResult:
    clients: int
    seconds: float
    requests: int
    errors: int
    throughput_per_s: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    error_samples: list[str] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK_HOSTS and not host.startswith("127."):
        raise InputError(f"load tests only target this machine (127.0.0.1), not {host!r}")


def run_load(
    url: str, questions: list[str], clients: int = 16, seconds: float = 60.0
) -> LoadResult:
    from gradio_client import Client

    check_loopback(url)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = [0.0]

    def start_clock() -> None:  # runs once, when every client has connected
        deadline[0] = time.monotonic() + seconds

    start_barrier = threading.Barrier(clients, action=start_clock)

    def worker(n: int) -> None:
        try:
            client = Client(url, verbose=False)
        except Exception as exc:  # every failure is counted and reported
            with lock:
                errors.append(f"client {n} could not connect: {exc}")
            start_barrier.abort()
            return
        try:
            start_barrier.wait(timeout=120)
        except threading.BrokenBarrierError:
            return
        for i in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= deadline[0]:
                break
            question = questions[(n * 7 + i) % len(questions)]
            t0 = time.perf_counter()
            try:
                answer = client.predict(question, 5, api_name="/ask")
                ok = bool(answer.get("passages"))
            except Exception as exc:
                ok, err = False, f"{type(exc).__name__}: {exc}"
            else:
                err = "empty answer"
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 300)
    wall = time.monotonic() - (deadline[0] - seconds) if deadline[0] else 0.0
    return LoadResult(
        clients=clients,
        seconds=round(wall, 2),
        requests=len(latencies) + len(errors),
        errors=len(errors),
        throughput_per_s=round(len(latencies) / wall, 2) if wall > 0 else 0.0,
        p50_ms=round(_percentile(latencies, 50), 1),
        p95_ms=round(_percentile(latencies, 95), 1),
        max_ms=round(max(latencies, default=0.0), 1),
        error_samples=errors[:5],
    )
