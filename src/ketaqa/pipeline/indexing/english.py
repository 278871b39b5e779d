"""How common a word is in general English: wordfreq's Zipf frequency, from a table saved
under the index folder.

The question reader weighs a missing concept by how common the word is ("pregnancy" is
specific, "wrote" is not). Importing wordfreq and loading its English list took about 0.35 s
of every cold `ketaqa ask`, for the few words one question needs. `ketaqa index` therefore
saves wordfreq's English list once as an SQLite table (word -> Zipf, with wordfreq's own
rounding; a test holds the two equal), and a lookup is one indexed SELECT.

The table records which wordfreq data file it was made from and that file's SHA-256. A word
outside the table's alphabet (`[a-z]+`), or any word when the table is missing, damaged or
made from other data, is asked of wordfreq itself: the answer is the same, only slower.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sqlite3
import threading
from pathlib import Path

from ketaqa.files import CHECKSUMS_FILE, fsync_dir, sha256_file, sha256_file_memo
from ketaqa.progress import Progress, quiet

log = logging.getLogger(__name__)

TABLE_FILE = "english-zipf.sqlite"
TABLE_FORMAT = 1
MAX_REMEMBERED = 200_000  # words looked up once per process (a question asks ~6)
PLAIN_WORD = re.compile(r"[a-z]+")  # what the table holds; anything else goes to wordfreq


def english_zipf(word: str) -> float:
    """wordfreq's Zipf frequency of an English word (0 when it has never been seen)."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


class EnglishFrequency:
    """`english_zipf` as a callable over the saved table, falling back to wordfreq."""

    def __init__(self, index_dir: Path):
        self.path = Path(index_dir) / TABLE_FILE
        self._memo = Path(index_dir) / CHECKSUMS_FILE
        self._db: sqlite3.Connection | None = None
        self._opened = False
        self._lock = threading.Lock()  # one connection, shared by the app's worker threads
        self._seen: dict[str, float] = {}  # the table never changes under a running process

    def __call__(self, word: str) -> float:
        known = self._seen.get(word)
        if known is None:
            known = self._lookup(word)
            if len(self._seen) < MAX_REMEMBERED:
                self._seen[word] = known
        return known

    def _lookup(self, word: str) -> float:
        if PLAIN_WORD.fullmatch(word):
            with self._lock:
                db = self._table()
                if db is not None:
                    try:
                        row = db.execute("SELECT zipf FROM zipf WHERE word = ?", (word,)).fetchone()
                        return float(row[0]) if row else 0.0
                    except sqlite3.Error as exc:
                        log.warning("word frequency table unreadable (%s); using wordfreq", exc)
                        db.close()
                        self._db = None
        return english_zipf(word)

    def _table(self) -> sqlite3.Connection | None:
        if not self._opened:
            self._opened = True
            self._db = _open_current(self.path, self._memo)
        return self._db


def table_status(index_dir: Path) -> str:
    """ "ok", "missing", "stale: …" or "damaged: …" for the saved table."""
    path = Path(index_dir) / TABLE_FILE
    if not path.exists():
        return "missing"
    try:
        db = _connect(path)
        try:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            rows = db.execute("SELECT count(*) FROM zipf").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error as exc:
        return f"damaged: {exc}"
    if meta.get("format") != str(TABLE_FORMAT) or str(rows) != meta.get("rows"):
        return "damaged: its row count or format does not match its header"
    if not _made_from_installed_data(meta, Path(index_dir) / CHECKSUMS_FILE):
        return "stale: made from other wordfreq data"
    return "ok"


def ensure_english_table(index_dir: Path, progress: Progress = quiet) -> bool:
    """Save wordfreq's English list as the lookup table unless a current one is there. False
    (with a message) when it cannot be saved, e.g. in a read-only index folder: the table
    only saves time, so answering goes on through wordfreq."""
    status = table_status(index_dir)
    if status == "ok":
        return True
    progress(f"word frequency table {status}; saving it")
    try:
        write_english_table(Path(index_dir) / TABLE_FILE)
    except (OSError, sqlite3.Error) as exc:
        progress(f"cannot save the word frequency table ({exc}); questions will read wordfreq")
        return False
    return True


def write_english_table(path: Path) -> None:
    """Write the table to a temporary file and move it into place (atomic, durable)."""
    import wordfreq

    source = Path(wordfreq.available_languages("best")["en"])
    rows = [
        (word, _zipf(freq))
        for word, freq in wordfreq.get_frequency_dict("en", "best").items()
        if PLAIN_WORD.fullmatch(word)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        db = sqlite3.connect(tmp)
        try:
            db.execute(
                "CREATE TABLE zipf (word TEXT PRIMARY KEY, zipf REAL NOT NULL) WITHOUT ROWID"
            )
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.executemany("INSERT INTO zipf VALUES (?, ?)", rows)
            meta = {
                "format": str(TABLE_FORMAT),
                "rows": str(len(rows)),
                "source": str(source),
                "source_sha256": sha256_file(source),
                "wordfreq": getattr(wordfreq, "__version__", ""),
            }
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            db.commit()
        finally:
            db.close()
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def _zipf(freq: float) -> float:
    """wordfreq's `zipf_frequency` of a one-token word, from its stored frequency: rounded to
    three significant digits, then to hundredths of a Zipf unit, as wordfreq does."""
    from wordfreq import freq_to_zipf

    rounded = round(freq, math.floor(-math.log(freq, 10)) + 3)
    return round(freq_to_zipf(rounded), 2)


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)


def _open_current(path: Path, memo: Path) -> sqlite3.Connection | None:
    """The table, read-only, when it exists and was made from the wordfreq data installed now
    (that file's hash is remembered in the checksum memo, so this costs a stat)."""
    if not path.exists():
        return None
    db = None
    try:
        db = _connect(path)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if _made_from_installed_data(meta, memo):
            return db
    except (sqlite3.Error, OSError) as exc:
        log.warning("word frequency table unreadable (%s); using wordfreq", exc)
    if db is not None:
        db.close()
    return None


def _made_from_installed_data(meta: dict[str, str], memo: Path) -> bool:
    """Whether the table's header names a wordfreq data file that exists and still has the
    hash it had when the table was made."""
    source = Path(meta.get("source", ""))
    return source.is_file() and sha256_file_memo(source, memo) == meta.get("source_sha256")
