"""Teaching sets: questions with the verbatim passages a teacher picked, kept in SQLite.

A set is an ordered list of items. An item is a question, the passages chosen for it (each a
*snapshot*: id, verbatim text, highlighted sentence, section path, page label and citation, so
an export still reads the same after the corpus is re-indexed), a note, and optionally the
passage that is the correct answer.

The database lives at `settings.data_dir / "teaching.sqlite3"`, in WAL mode with a busy
timeout, and every write is one `BEGIN IMMEDIATE` transaction, so several users of the app can
save at once. A damaged database file is never silently replaced: it is renamed
`teaching.sqlite3.corrupt-<timestamp>`, a new empty database is started, and the error says
where the old file is.

Exports: a Markdown handout with numbered citations, CSV (one row per passage), JSON (the
lossless form that `import_json` reads back, strictly validated) and evaluation items in the
format of `eval/questions.jsonl`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from ketaqa.config import MAX_QUESTION_CHARS, MAX_TOP_K, REPO_ROOT, Settings
from ketaqa.errors import InputError, KetaqaError
from ketaqa.files import write_atomic

DB_NAME = "teaching.sqlite3"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
EXPORT_FORMAT = "ketaqa-teaching-set"
EXPORT_VERSION = 1
EXPORT_KINDS = ("markdown", "csv", "json", "eval")
EXTENSIONS = {"markdown": "md", "csv": "csv", "json": "json", "eval": "jsonl"}

MAX_NAME_CHARS = 100
MAX_NOTE_CHARS = 5_000
MAX_PASSAGE_CHARS = 20_000
MAX_FIELD_CHARS = 5_000
MAX_ITEMS = 1_000
MAX_IMPORT_BYTES = 10_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    set_id INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    question TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    correct_passage_id TEXT,
    passages TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_by_set ON items(set_id, position);
"""
_COLUMNS = {
    "sets": {"id", "name", "created", "updated"},
    "items": {
        "id",
        "set_id",
        "position",
        "question",
        "note",
        "correct_passage_id",
        "passages",
        "created",
    },
}
_CORRUPTION_MESSAGES = ("not a database", "malformed", "disk image", "file is encrypted")


class TeachingError(KetaqaError):
    """A teaching-set operation that cannot be done; the message says why and what to do."""


# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class SavedPassage:
    """A passage as it was shown when saved: enough to print it and cite it without the index."""

    id: str
    text: str
    highlight: str
    section: str
    pages: str
    citation: str
    source: str = "statement"
    reference_key: str | None = None
    doi: str | None = None
    pmid: str | None = None

    @classmethod
    def from_answer_json(cls, d: Mapping) -> SavedPassage:
        """From one entry of `Assistant.to_json(answer)["passages"]`."""
        return cls(
            id=str(d["id"]),
            text=str(d["text"]),
            highlight=str(d.get("highlight") or ""),
            section=str(d.get("section") or ""),
            pages=str(d.get("pages") or ""),
            citation=str(d.get("citation") or ""),
            source=str(d.get("source") or "statement"),
            reference_key=d.get("reference_key"),
            doi=d.get("doi"),
            pmid=d.get("pmid"),
        )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Item:
    id: int
    position: int  # 1-based place in the set
    question: str
    passages: tuple[SavedPassage, ...]
    note: str = ""
    correct_passage_id: str | None = None
    created: str = ""

    @property
    def correct_passage(self) -> SavedPassage | None:
        return next((p for p in self.passages if p.id == self.correct_passage_id), None)


@dataclass(frozen=True)
class SetSummary:
    id: int
    name: str
    items: int
    created: str
    updated: str


@dataclass(frozen=True)
class TeachingSet:
    id: int
    name: str
    created: str
    updated: str
    items: tuple[Item, ...]


# ---------------------------------------------------------------------------------------------
# Validation of what users type or import


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs", "Co") and c not in "\t\n\r" for c in text)


def clean_text(value: object, what: str, max_chars: int, required: bool = True) -> str:
    """Text fit to store: a string, no control characters, within its length limit."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InputError(f"the {what} must be text")
    if _has_control(value):
        raise InputError(f"the {what} contains control or binary characters; type plain text")
    value = value.strip()
    if required and not value:
        raise InputError(f"the {what} is empty")
    if len(value) > max_chars:
        raise InputError(f"the {what} is {len(value)} characters long; the limit is {max_chars}")
    return value


def clean_name(name: object) -> str:
    name = clean_text(name, "set name", MAX_NAME_CHARS)
    return " ".join(name.split())


def safe_filename(name: str, extension: str) -> str:
    """A file name made from a set name: ASCII letters, digits, '-', '_' only; no paths."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_name).strip("-_")[:60].strip("-_")
    extension = re.sub(r"[^a-z0-9]", "", extension.lower()) or "txt"
    return f"{stem or 'teaching-set'}.{extension}"


_PASSAGE_REQUIRED = {"id", "text", "highlight", "section", "pages", "citation"}
_PASSAGE_OPTIONAL = {"source", "reference_key", "doi", "pmid"}
_ITEM_REQUIRED = {"question", "passages"}
_ITEM_OPTIONAL = {"note", "correct_passage_id", "created"}
_SET_REQUIRED = {"format", "version", "name", "items"}
_SET_OPTIONAL = {"exported", "created"}


def _check_keys(d: object, required: set[str], optional: set[str], where: str) -> dict:
    if not isinstance(d, dict):
        raise InputError(f"{where} must be a JSON object")
    missing = sorted(required - d.keys())
    if missing:
        raise InputError(f"{where} is missing {', '.join(missing)}")
    unknown = sorted(d.keys() - required - optional)
    if unknown:
        raise InputError(f"{where} has unknown field(s) {', '.join(unknown)}")
    return d


def validate_passage(d: object, where: str = "passage") -> SavedPassage:
    d = _check_keys(d, _PASSAGE_REQUIRED, _PASSAGE_OPTIONAL, where)
    pid = clean_text(d["id"], f"{where} id", 200)
    text = d["text"]
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where} text must be non-empty text")
    if _has_control(text) or len(text) > MAX_PASSAGE_CHARS:
        raise InputError(f"{where} text has control characters or is too long")
    highlight = d["highlight"]
    if not isinstance(highlight, str) or not highlight or highlight not in text:
        raise InputError(f"{where} highlight must be a non-empty part of its text")
    fields = {
        k: clean_text(d[k], f"{where} {k}", MAX_FIELD_CHARS, required=False)
        for k in ("section", "pages", "citation")
    }
    source = d.get("source", "statement")
    if source not in ("statement", "abstract", "document"):
        raise InputError(f"{where} source must be statement, abstract or document")
    optional: dict[str, str | None] = {}
    for k in ("reference_key", "doi", "pmid"):
        v = d.get(k)
        optional[k] = None if v is None else clean_text(v, f"{where} {k}", 300) or None
    if optional["pmid"] is not None and not optional["pmid"].isdigit():
        raise InputError(f"{where} pmid must be digits")
    return SavedPassage(id=pid, text=text, highlight=highlight, source=source, **fields, **optional)


def validate_item(
    question: object,
    passages: Sequence[SavedPassage | Mapping],
    note: object = "",
    correct_passage_id: object = None,
    where: str = "item",
) -> tuple[str, tuple[SavedPassage, ...], str, str | None]:
    question = " ".join(clean_text(question, f"{where} question", MAX_QUESTION_CHARS).split())
    note = clean_text(note, f"{where} note", MAX_NOTE_CHARS, required=False)
    if isinstance(passages, (str, bytes)) or not isinstance(passages, Sequence):
        raise InputError(f"{where} passages must be a list")
    if not passages:
        raise InputError(f"{where} has no passages; pick at least one passage to save")
    if len(passages) > MAX_TOP_K:
        raise InputError(f"{where} has {len(passages)} passages; the limit is {MAX_TOP_K}")
    checked = tuple(
        validate_passage(p.to_dict() if isinstance(p, SavedPassage) else p, f"{where} passage {n}")
        for n, p in enumerate(passages, start=1)
    )
    ids = [p.id for p in checked]
    if len(set(ids)) != len(ids):
        raise InputError(f"{where} lists the same passage twice")
    if correct_passage_id in (None, ""):
        correct = None
    elif not isinstance(correct_passage_id, str) or correct_passage_id not in ids:
        raise InputError(f"{where}: the correct answer must be one of the saved passages")
    else:
        correct = correct_passage_id
    return question, checked, note, correct


def parse_set_json(data: str | bytes) -> tuple[str, list[tuple[str, tuple, str, str | None]]]:
    """Validate an exported set strictly; (name, items) or InputError saying what is wrong."""
    if isinstance(data, bytes):
        if len(data) > MAX_IMPORT_BYTES:
            raise InputError(f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"the file is not UTF-8 text (bad byte at {exc.start})") from exc
    if len(data) > MAX_IMPORT_BYTES:
        raise InputError(f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB")
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"the file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    doc = _check_keys(doc, _SET_REQUIRED, _SET_OPTIONAL, "the file")
    if doc["format"] != EXPORT_FORMAT:
        raise InputError(f"the file is not a ketaqa teaching set (format {doc['format']!r})")
    if doc["version"] != EXPORT_VERSION:
        raise InputError(f"unsupported teaching-set version {doc['version']!r}")
    name = clean_name(doc["name"])
    raw_items = doc["items"]
    if not isinstance(raw_items, list):
        raise InputError("the file's items must be a list")
    if len(raw_items) > MAX_ITEMS:
        raise InputError(f"the file has {len(raw_items)} items; the limit is {MAX_ITEMS}")
    items = []
    for n, raw in enumerate(raw_items, start=1):
        where = f"item {n}"
        raw = _check_keys(raw, _ITEM_REQUIRED, _ITEM_OPTIONAL, where)
        if not isinstance(raw["passages"], list):
            raise InputError(f"{where} passages must be a list")
        items.append(
            validate_item(
                raw["question"],
                raw["passages"],
                raw.get("note", ""),
                raw.get("correct_passage_id"),
                where,
            )
        )
    return name, items


# ---------------------------------------------------------------------------------------------
# The store


class TeachingStore:
    """Teaching sets in one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._ready = False
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings) -> TeachingStore:
        return cls(settings.data_dir / DB_NAME)

    # -- connection, schema and damage -----------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("PRAGMA synchronous = NORMAL")
        return con

    def _ensure(self) -> None:
        """Create or check the database once; move a damaged file aside (never delete it)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            problem = self._damage()
            if problem:
                raise self._recover(problem)
            self._create()
            self._ready = True

    def _recover(self, problem: str) -> TeachingError:
        """Keep the damaged file as a backup, start an empty database, explain both."""
        backup = self._move_aside()
        self._create()
        self._ready = True
        return TeachingError(
            f"the teaching-set database {self.path.name} could not be used ({problem}). "
            f"It has been kept as {backup.name} in {backup.parent} and a new empty database "
            "started; your earlier sets are in that backup file. Try again."
        )

    def _damage(self) -> str | None:
        """Why the existing file is not a usable teaching-set database, or None."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        with self.path.open("rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                return "not an SQLite database"
        try:
            con = self._connect()
            try:
                check = con.execute("PRAGMA quick_check").fetchone()
                if not check or check[0] != "ok":
                    return f"integrity check failed: {check[0] if check else 'no result'}"
                version = con.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise TeachingError(
                        f"{self.path} was written by a newer ketaqa (schema {version}); "
                        "upgrade ketaqa to use it"
                    )
                for table, columns in _COLUMNS.items():
                    have = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
                    if have and have != columns:
                        return f"table {table} is not a teaching-set table"
            finally:
                con.close()
        except sqlite3.OperationalError as exc:
            if _is_corruption(exc):
                return str(exc)
            raise TeachingError(f"cannot open {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            return str(exc)
        return None

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        backup = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while backup.exists():
            n += 1
            backup = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        self.path.rename(backup)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.rename(backup.with_name(backup.name + suffix))
        return backup

    def _create(self) -> None:
        con = self._connect()
        try:
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("BEGIN IMMEDIATE")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                con.execute(statement)
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.execute("COMMIT")
        finally:
            con.close()

    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        self._ensure()
        try:
            con = self._connect()
        except sqlite3.DatabaseError as exc:
            raise self._failure(exc) from exc
        try:
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield con
            con.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            _rollback(con)
            raise self._failure(exc) from exc
        except BaseException:
            _rollback(con)
            raise
        finally:
            con.close()

    def _failure(self, exc: sqlite3.DatabaseError) -> TeachingError:
        if isinstance(exc, sqlite3.IntegrityError):
            return TeachingError(f"that change conflicts with saved data ({exc})")
        if _is_corruption(exc):
            with self._lock:
                if self.path.exists() and self._damage():
                    return self._recover(str(exc))
            return TeachingError(f"the teaching-set database is damaged ({exc})")
        if "locked" in str(exc) or "busy" in str(exc):
            return TeachingError("the teaching-set database is busy; try again in a moment")
        return TeachingError(f"teaching-set database error: {exc}")

    # -- sets -----------------------------------------------------------------------------------
    def list_sets(self) -> list[SetSummary]:
        with self._transaction(write=False) as con:
            rows = con.execute(
                "SELECT s.id, s.name, COUNT(i.id), s.created, s.updated FROM sets s "
                "LEFT JOIN items i ON i.set_id = s.id GROUP BY s.id ORDER BY s.name COLLATE NOCASE"
            ).fetchall()
        return [SetSummary(*row) for row in rows]

    def create_set(self, name: str) -> SetSummary:
        name = clean_name(name)
        with self._transaction(write=True) as con:
            if _set_id(con, name) is not None:
                raise TeachingError(f"a set named {name!r} already exists")
            now = _now()
            cur = con.execute(
                "INSERT INTO sets(name, created, updated) VALUES (?, ?, ?)", (name, now, now)
            )
            set_id = int(cur.lastrowid or 0)
        return SetSummary(set_id, name, 0, now, now)

    def get_set(self, name: str) -> TeachingSet:
        with self._transaction(write=False) as con:
            return _read_set(con, _require_set(con, name))

    def rename_set(self, name: str, new_name: str) -> None:
        new_name = clean_name(new_name)
        with self._transaction(write=True) as con:
            set_id = _require_set(con, name)
            other = _set_id(con, new_name)
            if other is not None and other != set_id:
                raise TeachingError(f"a set named {new_name!r} already exists")
            con.execute(
                "UPDATE sets SET name = ?, updated = ? WHERE id = ?", (new_name, _now(), set_id)
            )

    def delete_set(self, name: str) -> None:
        with self._transaction(write=True) as con:
            con.execute("DELETE FROM sets WHERE id = ?", (_require_set(con, name),))

    # -- items ----------------------------------------------------------------------------------
    def add_item(
        self,
        set_name: str,
        question: str,
        passages: Sequence[SavedPassage | Mapping],
        note: str = "",
        correct_passage_id: str | None = None,
        create: bool = True,
    ) -> Item:
        """Append an item to a set (created first when `create` and it does not exist)."""
        name = clean_name(set_name)
        question, checked, note, correct = validate_item(
            question, passages, note, correct_passage_id
        )
        with self._transaction(write=True) as con:
            set_id = _set_id(con, name)
            if set_id is None:
                if not create:
                    raise TeachingError(f"there is no set named {name!r}")
                now = _now()
                cur = con.execute(
                    "INSERT INTO sets(name, created, updated) VALUES (?, ?, ?)", (name, now, now)
                )
                set_id = int(cur.lastrowid or 0)
            return _insert_item(con, set_id, question, checked, note, correct)

    def delete_item(self, item_id: int) -> None:
        with self._transaction(write=True) as con:
            set_id = _item_set(con, item_id)
            con.execute("DELETE FROM items WHERE id = ?", (item_id,))
            _renumber(con, set_id)

    def move_item(self, item_id: int, offset: int) -> None:
        """Move an item up (offset < 0) or down (offset > 0) within its set."""
        with self._transaction(write=True) as con:
            set_id = _item_set(con, item_id)
            ids = _item_ids(con, set_id)
            here = ids.index(item_id)
            there = max(0, min(len(ids) - 1, here + offset))
            ids.insert(there, ids.pop(here))
            _write_order(con, set_id, ids)

    def reorder(self, set_name: str, item_ids: Sequence[int]) -> None:
        """Put the set's items in this order; the list must name each item exactly once."""
        with self._transaction(write=True) as con:
            set_id = _require_set(con, set_name)
            have = _item_ids(con, set_id)
            if sorted(item_ids) != sorted(have):
                raise TeachingError("the new order must list every item of the set exactly once")
            _write_order(con, set_id, list(item_ids))

    def update_item(
        self, item_id: int, note: str | None = None, correct_passage_id: str | None = None
    ) -> None:
        """Change an item's note and/or its correct-answer passage ("" clears it)."""
        with self._transaction(write=True) as con:
            set_id = _item_set(con, item_id)
            row = con.execute("SELECT passages FROM items WHERE id = ?", (item_id,)).fetchone()
            ids = [p["id"] for p in json.loads(row[0])]
            if note is not None:
                note = clean_text(note, "note", MAX_NOTE_CHARS, required=False)
                con.execute("UPDATE items SET note = ? WHERE id = ?", (note, item_id))
            if correct_passage_id is not None:
                if correct_passage_id and correct_passage_id not in ids:
                    raise InputError("the correct answer must be one of the item's passages")
                con.execute(
                    "UPDATE items SET correct_passage_id = ? WHERE id = ?",
                    (correct_passage_id or None, item_id),
                )
            _touch(con, set_id)

    # -- import ---------------------------------------------------------------------------------
    def import_json(self, data: str | bytes, name: str | None = None) -> TeachingSet:
        """Add a set from an exported JSON file; all or nothing. A taken name gets " (2)"."""
        set_name, items = parse_set_json(data)
        if name:
            set_name = clean_name(name)
        with self._transaction(write=True) as con:
            base, n = set_name, 1
            while _set_id(con, set_name) is not None:
                n += 1
                suffix = f" ({n})"
                set_name = base[: MAX_NAME_CHARS - len(suffix)] + suffix
            now = _now()
            cur = con.execute(
                "INSERT INTO sets(name, created, updated) VALUES (?, ?, ?)",
                (set_name, now, now),
            )
            set_id = int(cur.lastrowid or 0)
            for question, passages, note, correct in items:
                _insert_item(con, set_id, question, passages, note, correct)
            return _read_set(con, set_id)


# ---------------------------------------------------------------------------------------------
# SQL helpers (inside a transaction)


def _rollback(con: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        if con.in_transaction:
            con.execute("ROLLBACK")


def _is_corruption(exc: Exception) -> bool:
    return any(m in str(exc).lower() for m in _CORRUPTION_MESSAGES)


def _set_id(con: sqlite3.Connection, name: str) -> int | None:
    row = con.execute("SELECT id FROM sets WHERE name = ?", (" ".join(str(name).split()),))
    found = row.fetchone()
    return int(found[0]) if found else None


def _require_set(con: sqlite3.Connection, name: str) -> int:
    if not isinstance(name, str) or not name.strip():
        raise InputError("choose a teaching set first")
    set_id = _set_id(con, name)
    if set_id is None:
        raise TeachingError(f"there is no set named {name!r}")
    return set_id


def _item_set(con: sqlite3.Connection, item_id: int) -> int:
    if isinstance(item_id, bool) or not isinstance(item_id, int):
        raise InputError("choose an item first")
    row = con.execute("SELECT set_id FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise TeachingError(f"there is no item {item_id}; it may have been deleted")
    return int(row[0])


def _item_ids(con: sqlite3.Connection, set_id: int) -> list[int]:
    rows = con.execute(
        "SELECT id FROM items WHERE set_id = ? ORDER BY position, id", (set_id,)
    ).fetchall()
    return [int(r[0]) for r in rows]


def _write_order(con: sqlite3.Connection, set_id: int, ids: list[int]) -> None:
    con.executemany(
        "UPDATE items SET position = ? WHERE id = ?", [(n, i) for n, i in enumerate(ids)]
    )
    _touch(con, set_id)


def _renumber(con: sqlite3.Connection, set_id: int) -> None:
    _write_order(con, set_id, _item_ids(con, set_id))


def _touch(con: sqlite3.Connection, set_id: int) -> None:
    con.execute("UPDATE sets SET updated = ? WHERE id = ?", (_now(), set_id))


def _insert_item(
    con: sqlite3.Connection,
    set_id: int,
    question: str,
    passages: Iterable[SavedPassage],
    note: str,
    correct: str | None,
) -> Item:
    position = con.execute(
        "SELECT COALESCE(MAX(position) + 1, 0) FROM items WHERE set_id = ?", (set_id,)
    ).fetchone()[0]
    now = _now()
    passages = tuple(passages)
    cur = con.execute(
        "INSERT INTO items(set_id, position, question, note, correct_passage_id, passages, "
        "created) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            set_id,
            position,
            question,
            note,
            correct,
            json.dumps([p.to_dict() for p in passages], ensure_ascii=False),
            now,
        ),
    )
    _touch(con, set_id)
    return Item(int(cur.lastrowid or 0), position + 1, question, passages, note, correct, now)


def _read_set(con: sqlite3.Connection, set_id: int) -> TeachingSet:
    name, created, updated = con.execute(
        "SELECT name, created, updated FROM sets WHERE id = ?", (set_id,)
    ).fetchone()
    rows = con.execute(
        "SELECT id, question, note, correct_passage_id, passages, created FROM items "
        "WHERE set_id = ? ORDER BY position, id",
        (set_id,),
    ).fetchall()
    items = []
    for n, (item_id, question, note, correct, passages, item_created) in enumerate(rows, 1):
        try:
            saved = tuple(SavedPassage(**p) for p in json.loads(passages))
        except (ValueError, TypeError) as exc:
            raise TeachingError(f"item {item_id} of {name!r} is damaged ({exc})") from exc
        items.append(Item(item_id, n, question, saved, note, correct, item_created))
    return TeachingSet(set_id, name, created, updated, tuple(items))


# ---------------------------------------------------------------------------------------------
# Exports


def to_json(ts: TeachingSet) -> str:
    """The lossless export that `TeachingStore.import_json` reads back."""
    doc = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "name": ts.name,
        "exported": _now(),
        "items": [
            {
                "question": item.question,
                "note": item.note,
                "correct_passage_id": item.correct_passage_id,
                "created": item.created,
                "passages": [p.to_dict() for p in item.passages],
            }
            for item in ts.items
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _md_user_text(text: str) -> str:
    """Questions, notes and names are the user's words: keep HTML in them inert."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quote_block(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())


def bold_lines(text: str) -> str:
    """Bold a highlight line by line (Markdown bold cannot cross lines); bullet markers and
    surrounding white space stay outside the asterisks."""
    out = []
    for line in text.split("\n"):
        m = re.match(r"^(\s*(?:- )?)(.*?)(\s*)$", line)
        lead, body, trail = m.groups() if m else ("", line, "")
        out.append(f"{lead}**{body}**{trail}" if body else line)
    return "\n".join(out)


def to_markdown(ts: TeachingSet, notice: str = "") -> str:
    """A handout: each question, its passages quoted verbatim (highlight in bold), numbered
    citations [n] and the list of references at the end."""
    numbers: dict[str, int] = {}
    lines = [f"# {_md_user_text(ts.name)}", ""]
    if notice:
        lines += [f"*{notice}*", ""]
    for item in ts.items:
        lines += [f"## {item.position}. {_md_user_text(item.question)}", ""]
        for p in item.passages:
            n = numbers.setdefault(p.citation, len(numbers) + 1)
            text = p.text
            start = text.find(p.highlight) if p.highlight else -1
            if start >= 0:
                end = start + len(p.highlight)
                text = text[:start] + bold_lines(text[start:end]) + text[end:]
            lines.append(_quote_block(text))
            where = ", ".join(x for x in (p.section, p.pages) if x)
            marker = " — correct answer" if p.id == item.correct_passage_id else ""
            lines += [">", f"> — {where} [{n}]{marker}", ""]
        if item.note:
            lines += [f"**Note:** {_md_user_text(item.note)}", ""]
    if numbers:
        lines += ["## References", ""]
        lines += [f"{n}. {citation}" for citation, n in numbers.items()]
        lines.append("")
    return "\n".join(lines)


CSV_COLUMNS = (
    "set",
    "item",
    "question",
    "note",
    "passage",
    "passage_id",
    "correct",
    "section",
    "pages",
    "citation",
    "doi",
    "pmid",
    "highlight",
    "text",
)


def _csv_cell(value: object) -> str:
    """Spreadsheet-safe: a cell starting with = + - @ would run as a formula, so it gets a
    leading apostrophe (the JSON export is the lossless form)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(ts: TeachingSet) -> str:
    """One row per saved passage."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in ts.items:
        for n, p in enumerate(item.passages, start=1):
            row = (
                ts.name,
                item.position,
                item.question,
                item.note,
                n,
                p.id,
                "yes" if p.id == item.correct_passage_id else "",
                p.section,
                p.pages,
                p.citation,
                p.doi,
                p.pmid,
                p.highlight,
                p.text,
            )
            writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue()


def next_question_number(questions_path: Path | None) -> int:
    """One more than the highest `qNNN` id in a questions file (1 when there is none)."""
    highest = 0
    if questions_path is not None and questions_path.exists():
        for line in questions_path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, AttributeError):
                m = re.fullmatch(r"q(\d+)", json.loads(line).get("id", ""))
                if m:
                    highest = max(highest, int(m.group(1)))
    return highest + 1


def eval_items(ts: TeachingSet, questions_path: Path | None = None) -> list[dict]:
    """Items with a correct answer as evaluation items (eval/questions.jsonl format); ids
    continue after the highest id in `questions_path` (default eval/questions.jsonl)."""
    if questions_path is None:
        questions_path = REPO_ROOT / "eval" / "questions.jsonl"
    number = next_question_number(questions_path)
    out = []
    for item in ts.items:
        correct = item.correct_passage
        if correct is None:
            continue
        out.append(
            {
                "id": f"q{number:03d}",
                "question": item.question,
                "gold_spans": [correct.highlight],
                "reference_key": correct.reference_key,
                "tags": ["teaching-set"],
                "split": "dev",
                "answerable": True,
            }
        )
        number += 1
    if not out:
        raise TeachingError(
            f"no item in {ts.name!r} has a correct answer; choose one when saving an item"
        )
    return out


def to_eval_jsonl(ts: TeachingSet, questions_path: Path | None = None) -> str:
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in eval_items(ts, questions_path))


def export_text(
    ts: TeachingSet, kind: str, notice: str = "", questions_path: Path | None = None
) -> str:
    if kind == "markdown":
        return to_markdown(ts, notice)
    if kind == "csv":
        return to_csv(ts)
    if kind == "json":
        return to_json(ts)
    if kind == "eval":
        return to_eval_jsonl(ts, questions_path)
    raise InputError(f"unknown export format {kind!r}; choose one of {', '.join(EXPORT_KINDS)}")


def write_export(
    ts: TeachingSet,
    kind: str,
    out_dir: Path,
    notice: str = "",
    questions_path: Path | None = None,
) -> Path:
    """Write an export into `out_dir` under a sanitised file name; the path written."""
    text = export_text(ts, kind, notice, questions_path)
    stem = ts.name + ("-eval-items" if kind == "eval" else "")
    path = out_dir / safe_filename(stem, EXTENSIONS[kind])
    if path.resolve().parent != out_dir.resolve():
        raise TeachingError("refusing to write an export outside its folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    # utf-8-sig for CSV so spreadsheet programs read the dashes and quotes correctly
    write_atomic(path, text.encode("utf-8-sig" if kind == "csv" else "utf-8"))
    return path
