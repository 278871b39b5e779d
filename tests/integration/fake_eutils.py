"""A loopback E-utilities server for tests: real HTTP on 127.0.0.1, SYNTHETIC answers.

It answers einfo (the probe), ecitmatch (pipe format, one line per citation), esearch (JSON)
and efetch (PubMed XML filtered to the requested PMIDs from a synthetic batch file), over GET
or POST as Bio.Entrez sends them. Nothing it serves is a real abstract.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "synthetic_pubmed"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class FakeEutils:
    """Answers from `citations`, `searches` and the synthetic `batch`, unless `queued`."""

    batch: Path = FIXTURES / "efetch_batch.xml"
    citations: dict[str, str] = field(default_factory=dict)  # key -> PMID / AMBIGUOUS …
    searches: dict[str, list[str]] = field(default_factory=dict)
    queued: dict[str, list[Reply]] = field(default_factory=dict)
    requests: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, endpoint: str, params: dict[str, str]) -> Reply:
        with self.lock:
            self.requests.append((time.monotonic(), endpoint, params))
            queue = self.queued.get(endpoint)
            if queue:
                return queue.pop(0)
        if endpoint == "einfo.fcgi":
            return Reply(body=b'{"einforesult": {"dblist": ["pubmed"]}}')
        if endpoint == "ecitmatch.cgi":
            return Reply(body=self.ecitmatch(params.get("bdata", "")), headers=TEXT)
        if endpoint == "esearch.fcgi":
            ids = self.searches.get(params.get("term", ""), [])
            body = {"esearchresult": {"count": str(len(ids)), "idlist": ids}}
            return Reply(body=json.dumps(body).encode())
        if endpoint == "efetch.fcgi":
            return Reply(body=efetch_answer(self.batch, params.get("id", "").split(",")))
        return Reply(status=404)

    def ecitmatch(self, bdata: str) -> bytes:
        """Each `journal|year|volume|page|author|key|` line back with the result appended."""
        lines = []
        for line in bdata.replace("\r", "\n").split("\n"):
            if line.strip():
                fields = line.rstrip("|").split("|")
                key = fields[5] if len(fields) > 5 else ""
                lines.append(line.rstrip("|") + "|" + self.citations.get(key, "NOT_FOUND"))
        return ("\n".join(lines) + "\n").encode()

    def of(self, endpoint: str) -> list[dict[str, str]]:
        return [params for _, e, params in self.requests if e == endpoint]

    def max_per_second(self) -> int:
        """The most requests the server saw within any one-second window."""
        times = sorted(t for t, _, _ in self.requests)
        return max(
            (sum(1 for u in times[i:] if u - t < 1.0) for i, t in enumerate(times)), default=0
        )


TEXT = {"Content-Type": "text/plain; charset=UTF-8"}


def efetch_answer(batch: Path, ids: list[str]) -> bytes:
    """The synthetic batch, keeping only the requested PMIDs (as NCBI would)."""
    root = ET.parse(batch).getroot()
    for article in list(root):
        pmid = article.findtext("MedlineCitation/PMID") or article.findtext("BookDocument/PMID")
        if article.tag == "DeleteCitation":
            pmid = article.findtext("PMID")
        if pmid not in ids:
            root.remove(article)
    return ET.tostring(root, encoding="utf-8")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self._answer(url.path, dict(parse_qsl(url.query)))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8")
        self._answer(urlsplit(self.path).path, dict(parse_qsl(body)))

    def _answer(self, path: str, params: dict[str, str]) -> None:
        reply = self.server.fake.reply(path.rsplit("/", 1)[-1], params)  # type: ignore[attr-defined]
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            headers = {"Content-Type": "application/xml", **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(fake: FakeEutils) -> Iterator[str]:
    """Serve `fake` on a free port of 127.0.0.1; yields the base URL; always shuts down."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    httpd.fake = fake  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/entrez/eutils/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
