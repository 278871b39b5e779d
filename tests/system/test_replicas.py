"""Two app replicas (`python app.py --workers 2`): each answers on its own port, and a teaching
set saved through one is seen by the other at once, with the SQLite file and with PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from ketaqa.config import REPO_ROOT, child_env

pytestmark = pytest.mark.slow

QUESTION = "What are the contraindications to ketamine infusions?"


def _free_pair() -> int:
    """A port P with P+1 also free (both checked now; a race is possible but rare)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two consecutive free ports")


def _wait_ready(url: str, proc: subprocess.Popen, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the app stopped before it was ready"
        try:
            if httpx.get(url + "/api/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} never became ready")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_replicas_share_teaching_sets(assistant, settings, tmp_path, request, backend):
    from gradio_client import Client

    env = child_env(
        KETAQA_CORPUS_DIR=str(settings.corpus_dir),
        KETAQA_INDEX_DIR=str(settings.index_dir),  # built by the session's fixtures
        KETAQA_DATA_DIR=str(tmp_path / "data"),
    )
    env.pop("KETAQA_DATABASE_URL", None)
    if backend == "postgres":
        env["KETAQA_DATABASE_URL"] = request.getfixturevalue("pg_url")
    port = _free_pair()
    proc = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "app.py"), "--port", str(port), "--workers", "2"],
        env=env,
        start_new_session=True,
    )
    urls = [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"]
    try:
        for url in urls:
            _wait_ready(url, proc)
        answers = [
            httpx.post(u + "/api/ask", json={"question": QUESTION, "top_k": 2}, timeout=60)
            for u in urls
        ]
        assert [a.status_code for a in answers] == [200, 200]
        assert answers[0].json() == answers[1].json()  # one index, read by both
        ids = [p["id"] for p in answers[0].json()["passages"]]
        first, second = Client(urls[0] + "/", verbose=False), Client(urls[1] + "/", verbose=False)
        first.predict("From replica A", QUESTION, ids, "", "", api_name="/sets_save")
        seen = {s["name"]: s["items"] for s in second.predict(api_name="/sets_list")}
        assert seen == {"From replica A": 1}
        second.predict("From replica A", QUESTION, ids[:1], "", "", api_name="/sets_save")
        second.predict("From replica B", QUESTION, ids[:1], "", "", api_name="/sets_save")
        seen = {s["name"]: s["items"] for s in first.predict(api_name="/sets_list")}
        assert seen == {"From replica A": 2, "From replica B": 1}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for url in urls:  # stopping the parent stopped both workers
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/api/health", timeout=5)
