"""`ketaqa soak`: a long run of 16 clients on 127.0.0.1 mixing ask, save and export, with the
app killed, its teaching database damaged, and the app started again half way through.

Not part of `make test` (it runs for minutes). It reports how many saves were acknowledged and
whether every one of them is in the database at the end (saves carry request ids, so a client
retrying across the restart never duplicates one), and how the app's temporary folder grew.
Exports go both through the API (`/sets_export`, no file) and through the Teaching sets tab's
Export button as a browser presses it (a file in a per-request `export-*` folder under the
app's `ketaqa-tmp-<pid>-*` root), so the bound on those folders is checked too. The app runs
with its own TMPDIR and data folder, so nothing else on the machine is counted.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from ketaqa.config import child_env
from ketaqa.tools.net import free_port

MAX_LOOPS = 100_000  # per client; the clock ends the run long before
KEEP_FOLDERS = 32  # per-request folders the app keeps (apps.ui.guard.TempFolders.keep)
QUESTIONS = (
    "Which patients may benefit from ketamine?",
    "Is ketamine recommended for complex regional pain syndrome?",
    "What are the contraindications to ketamine?",
    "What adverse effects does ketamine have?",
    "Should ketamine be used for spinal cord injury pain?",
    "What dose of ketamine is used?",
)


@dataclass
class SoakResult:
    minutes: float
    clients: int
    asks: int = 0
    saves_acknowledged: int = 0
    save_retries: int = 0
    exports: int = 0
    file_exports: int = 0  # through the Export button: each writes a file
    errors: int = 0
    restarts: int = 0
    damage: str = ""
    lost_acknowledged: int = 0
    duplicated: int = 0
    # (s, files, bytes, ketaqa-tmp roots, most request folders in one root)
    tmp_files: list[tuple[float, int, int, int, int]] = field(default_factory=list)
    most_request_folders: int = 0
    roots_left_at_end: int = 0
    error_samples: list[str] = field(default_factory=list)


def _tmp_usage(folder: Path) -> tuple[int, int, int, int]:
    """Files and bytes under the app's TMPDIR; its ketaqa-tmp roots, and the most per-request
    folders in one of them.

    The app removes folders while this walks, so every vanished entry is skipped: os.walk
    ignores folders that are gone (Path.rglob raises), and stat and iterdir are guarded."""
    files = [Path(top, name) for top, _, names in os.walk(folder) for name in names]
    size = 0
    for p in files:
        try:
            size += p.stat().st_size
        except OSError:  # removed by the app meanwhile
            continue
    roots = list(folder.glob("ketaqa-tmp-*"))
    most = max((_entries(r) for r in roots), default=0)
    return len(files), size, len(roots), most


def _entries(folder: Path) -> int:
    try:
        return sum(1 for _ in folder.iterdir())
    except OSError:  # the root went with its process
        return 0


class ExportButton:
    """The Teaching sets tab's Export button, pressed as the browser does it: Gradio's queue
    protocol (POST queue/join, then server-sent events from queue/data). gradio_client cannot
    call the app's UI events, which are private; the page-load event is sent first in the
    same session so that the set list holds the set to export."""

    def __init__(self, url: str):
        self.url = url
        config = httpx.get(url + "config", timeout=30).json()
        ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
        deps = config["dependencies"]
        self.export = next(d for d in deps if [ids["export"], "click"] in d["targets"])
        self.load = next(
            d
            for d in deps
            if any(t[1] == "load" for t in d["targets"]) and ids["set-select"] in d["outputs"]
        )

    def press(self, set_name: str, kind: str = "markdown") -> str:
        """The export status line; RuntimeError when the event fails."""
        session = uuid.uuid4().hex
        with httpx.Client(timeout=httpx.Timeout(120.0)) as http:
            self._call(http, session, self.load, [])
            return str(self._call(http, session, self.export, [set_name, kind])[1])

    def _call(self, http: httpx.Client, session: str, dep: dict, data: Sequence) -> list:
        joined = http.post(
            self.url + "gradio_api/queue/join",
            json={
                "data": list(data),
                "event_data": None,
                "fn_index": dep["id"],
                "trigger_id": dep["targets"][0][0],
                "session_hash": session,
            },
        )
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        stream = http.stream(
            "GET", self.url + "gradio_api/queue/data", params={"session_hash": session}
        )
        with stream as events:
            for line in events.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") == event_id and msg.get("msg") == "process_completed":
                    if not msg.get("success"):
                        raise RuntimeError(f"UI event failed: {msg.get('output')}")
                    return msg["output"]["data"]
        raise RuntimeError("the event stream ended before the event completed")


class App:
    """The app as a child process with its own folders."""

    def __init__(self, root: Path, port: int):
        self.root, self.port = root, port
        self.url = f"http://127.0.0.1:{port}/"
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        self.env = child_env(
            KETAQA_INDEX_DIR=str(root / "index"),
            KETAQA_DATA_DIR=str(root / "data"),
            KETAQA_PORT=str(port),
            TMPDIR=str(root / "tmp"),
            GRADIO_TEMP_DIR=str(root / "tmp" / "gradio"),
        )
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "ketaqa.apps.cli", *args], env=self.env, check=True)

    def start(self) -> None:
        log = (self.root / "app.log").open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ketaqa.apps.cli", "serve"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(600):  # bounded: at most about 5 minutes
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited; see {self.root / 'app.log'}")
        raise RuntimeError("the app did not start in time")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def damage_index_page(db: Path) -> str:
    """Checkpoint (as SQLite's own recovery would), then invert one page of an index b-tree
    of the items table: quick_check fails, and every table row can still be read."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'items_by_set'").fetchone()
    con.close()
    raw = bytearray(db.read_bytes())
    start = (root[0] - 1) * page_size
    raw[start : start + page_size] = bytes(b ^ 0xFF for b in raw[start : start + page_size])
    db.write_bytes(bytes(raw))
    return f"page {root[0]} ({page_size} bytes, root of index items_by_set) inverted"


class Clients:
    """16 (or n) gradio_client users; every acknowledged save is recorded by request id."""

    def __init__(self, url: str, n: int, result: SoakResult):
        self.url, self.n, self.result = url, n, result
        self.button: ExportButton | None = None
        self.acked: dict[str, tuple[str, int]] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def _error(self, text: str) -> None:
        with self.lock:
            self.result.errors += 1
            if len(self.result.error_samples) < 10:
                self.result.error_samples.append(text[:200])

    def _client(self):
        from gradio_client import Client

        for _ in range(300):  # bounded: the app may be restarting
            if self.stop.is_set():
                return None
            try:
                return Client(self.url, verbose=False)
            except Exception:
                time.sleep(1)
        return None

    def worker(self, n: int) -> None:
        client = self._client()
        for i in range(MAX_LOOPS):
            if self.stop.is_set() or client is None:
                return
            try:
                self._one_round(client, n, i)
            except Exception as exc:
                self._error(f"{type(exc).__name__}: {exc}")
                time.sleep(0.5)
                client = self._client()

    def _one_round(self, client, n: int, i: int) -> None:
        question = QUESTIONS[(n + i) % len(QUESTIONS)]
        answer = client.predict(question, 5, api_name="/ask")
        with self.lock:
            self.result.asks += 1
        set_name = f"Soak {n % 4}"
        request_id = uuid.uuid4().hex
        ids = [answer["passages"][0]["id"]]
        saved = None
        for attempt in range(30):  # a retry of the same request id never duplicates
            try:
                saved = client.predict(
                    set_name, question, ids, "", "", request_id, api_name="/sets_save"
                )
                break
            except Exception as exc:
                self._error(f"save attempt {attempt + 1}: {type(exc).__name__}: {exc}")
                with self.lock:
                    self.result.save_retries += 1
                time.sleep(1)
                client = self._client() or client
        if saved is not None:
            with self.lock:
                self.acked[request_id] = (saved["set"], saved["item_id"])
                self.result.saves_acknowledged += 1
        if i % 3 == 0:
            client.predict(set_name, "markdown", api_name="/sets_export")
            with self.lock:
                self.result.exports += 1
        if i % 3 == 1:
            self._press_export(set_name, ("markdown", "csv", "json")[(i // 3) % 3])

    def _press_export(self, set_name: str, kind: str) -> None:
        self.button = self.button or ExportButton(self.url)
        status = self.button.press(set_name, kind)
        if "Exported" not in status:
            raise RuntimeError(f"export did not write a file: {status[:120]}")
        with self.lock:
            self.result.file_exports += 1


def verify(db: Path, acked: dict[str, tuple[str, int]]) -> tuple[int, int]:
    """(acknowledged saves missing from the database, request ids stored more than once)."""
    con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT request_id, count(*) FROM items GROUP BY request_id").fetchall()
    finally:
        con.close()
    counts = {r: c for r, c in rows if r}
    return sum(1 for r in acked if r not in counts), sum(1 for c in counts.values() if c > 1)


def run_soak(minutes: float, clients: int = 16, root: Path | None = None) -> SoakResult:
    root = Path(root or tempfile.mkdtemp(prefix="ketaqa-soak-"))
    app = App(root, free_port())
    result = SoakResult(minutes, clients)
    app.cli("index")
    app.start()
    crowd = Clients(app.url, clients, result)
    threads = [
        threading.Thread(target=crowd.worker, args=(n,), daemon=True) for n in range(clients)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    end, damaged = started + minutes * 60, False
    try:
        while time.monotonic() < end:
            time.sleep(10)
            elapsed = time.monotonic() - started
            result.tmp_files.append((round(elapsed), *_tmp_usage(root / "tmp")))
            if not damaged and elapsed >= minutes * 30:
                app.kill()
                result.damage = damage_index_page(root / "data" / "teaching.sqlite3")
                app.start()
                result.restarts += 1
                damaged = True
    finally:
        crowd.stop.set()
        for t in threads:
            t.join(timeout=120)
        app.stop()
    result.tmp_files.append((round(time.monotonic() - started), *_tmp_usage(root / "tmp")))
    result.most_request_folders = max(t[4] for t in result.tmp_files)
    result.roots_left_at_end = result.tmp_files[-1][3]
    result.lost_acknowledged, result.duplicated = verify(
        root / "data" / "teaching.sqlite3", crowd.acked
    )
    (root / "soak.json").write_text(json.dumps(asdict(result), indent=2))
    return result


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ketaqa.tools.soak")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--root", type=Path, help="work folder (default: a new temp folder)")
    args = parser.parse_args()
    result = run_soak(args.minutes, args.clients, args.root)
    print(json.dumps(asdict(result), indent=2))
    return 0 if passed(result) else 1


def passed(result: SoakResult) -> bool:
    """No acknowledged save lost or stored twice, and the temporary folders stayed bounded."""
    return (
        result.lost_acknowledged == 0
        and result.duplicated == 0
        and result.most_request_folders <= KEEP_FOLDERS
        and result.roots_left_at_end == 0
    )


if __name__ == "__main__":
    sys.exit(main())
