"""`ketaqa serve --workers N` (`python app.py --workers N`): N app processes on N ports.

Each worker is a whole app (UI and JSON API) on its own port, P, P+1, ..., P+N-1, all reading
the same index files (read-only) and the same teaching-set store. One port per process,
rather than N processes behind one port, because Gradio's queue keeps each browser session's
events in the process that accepted it; put a proxy with sticky sessions in front for one
public address (README). For the JSON API alone behind one port, `uvicorn --factory
ketaqa.apps.json_api:create_app --workers N` is enough (no session state).
The index is built (or checked) once, before any worker starts, so workers never race to
build it. Stopping the parent (Ctrl-C, SIGTERM) stops every worker; a worker that dies stops
the rest, so a half-served deployment is never left running.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable

from ketaqa.config import child_env
from ketaqa.errors import KetaqaError

STOP_GRACE_SECONDS = 10


def worker_ports(port: int, workers: int) -> list[int]:
    if not 1 <= workers <= 32:
        raise KetaqaError(f"--workers must be between 1 and 32, not {workers}")
    if port + workers - 1 > 65535:
        raise KetaqaError(f"ports {port}-{port + workers - 1} do not all exist")
    return [port + n for n in range(workers)]


def serve_workers(host: str, port: int, workers: int, progress: Callable[[str], None]) -> int:
    """Build or check the index once, start the workers, wait; return the exit code."""
    ports = worker_ports(port, workers)
    cli = [sys.executable, "-m", "ketaqa.apps.cli"]
    progress("checking the index (built first if missing or stale)")
    if subprocess.run([*cli, "index"], env=child_env()).returncode != 0:
        raise KetaqaError("the index could not be built; see the messages above")
    procs = [
        subprocess.Popen(
            [*cli, "serve", "--host", host, "--port", str(p), "--workers", "1"], env=child_env()
        )
        for p in ports
    ]
    progress(f"{workers} workers on http://{host}:{ports[0]} ... :{ports[-1]}")
    stop = _stop_on_signals()
    try:
        while not stop:
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                progress(f"a worker stopped (exit code {dead[0].returncode}); stopping the rest")
                return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        _stop(procs)


def _stop_on_signals() -> list[int]:
    """A list that becomes non-empty when SIGTERM arrives (Ctrl-C is KeyboardInterrupt)."""
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stop.append(signum))
    return stop


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
