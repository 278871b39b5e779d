"""Issue #16, F10 and response size: `abstracts fetch` under a deadline, against servers on
127.0.0.1 that fail, trickle or send too much. SYNTHETIC answers only; no model."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ketaqa.abstracts.entrez import EntrezClient, EutilsConfig, ResponseTooLarge
from ketaqa.abstracts.fetch import DEADLINE_REASON, fetch
from ketaqa.config import REPO_ROOT
from ketaqa.errors import KetaqaError
from ketaqa.pipeline.documents.corpus import load_references


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        mode = self.server.mode
        self.server.hits += 1
        if mode == "500":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        body = b"x" * 300 if mode == "trickle" else b"y" * 3_000_000
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if mode == "trickle":
                for n in range(300):  # bounded: a byte every 0.1 s, for at most 30 s
                    if self.server.stop.is_set():
                        return
                    self.wfile.write(body[n : n + 1])
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_POST = do_GET  # Bio.Entrez POSTs long requests (a batch of many PMIDs)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch) -> Iterator[ThreadingHTTPServer]:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    httpd.mode, httpd.hits, httpd.stop = "500", 0, threading.Event()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/entrez/eutils/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd
    finally:
        httpd.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(REPO_ROOT / "corpus" / "references.json", folder / "references.json")
    return folder


def test_deadline_stops_a_failing_fetch_and_reports_the_rest(server, corpus_dir):
    refs = load_references(corpus_dir / "references.json")
    report = fetch(corpus_dir, refs, None, None, server.url, timeout=2.0, backoff=0.2, deadline=1.0)
    assert report.fetched == ()
    assert any(m.reason == DEADLINE_REASON for m in report.missing)
    # before: every reference ran its full backoff (about 11 minutes for 46 references)
    assert server.hits < 20


def test_a_trickling_server_does_not_defeat_the_timeout(server):
    server.mode = "trickle"
    client = EntrezClient(EutilsConfig(base_url=server.url, timeout=0.5, max_retries=0))
    with pytest.raises(KetaqaError, match=r"timed out after 0\.5 s"):
        client.efetch(["1"])  # 300 bytes at 10 a second: 30 s without the overall limit


def test_an_oversized_answer_is_refused(server):
    server.mode = "big"
    config = EutilsConfig(base_url=server.url, timeout=5.0, max_response_bytes=1_000_000)
    with pytest.raises(ResponseTooLarge, match="larger than 1,000,000 bytes"):
        EntrezClient(config).efetch(["1"])
