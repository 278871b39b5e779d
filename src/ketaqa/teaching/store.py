"""Teaching sets kept in SQLite, safe for several users of the app at once.

The database lives at `settings.data_dir / "teaching.sqlite3"`, in WAL mode with a busy
timeout, and every write is one `BEGIN IMMEDIATE` transaction, so several users of the app can
save at once. A save may carry a client request id: a retry of a committed save returns the
saved item instead of adding it twice.

A damaged database file is never silently replaced: every readable row is salvaged into a fresh
database (`salvage`), the damaged file is kept as `teaching.sqlite3.corrupt-<timestamp>`, and
`pop_notice()` says what was recovered and lost. When the data folder is read-only the
database is opened with `mode=ro`: sets can still be listed and exported, and a change is
refused with a message saying to set KETAQA_DATA_DIR. Records and validation are in `models`,
exports in `export`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ketaqa.config import Settings
from ketaqa.errors import InputError
from ketaqa.teaching.models import (
    SetSummary,
    TeachingError,
)
from ketaqa.teaching.operations import SetOperations
from ketaqa.teaching.salvage import salvage
from ketaqa.teaching.schema import (
    BUSY_TIMEOUT_MS,
    SCHEMA_VERSION,
)
from ketaqa.teaching.schema import COLUMNS as _COLUMNS
from ketaqa.teaching.schema import SCHEMA as _SCHEMA
from ketaqa.teaching.schema import connect_readonly as _connect_readonly
from ketaqa.teaching.schema import create_schema as _create_schema
from ketaqa.teaching.schema import writable as _writable

log = logging.getLogger(__name__)

DB_NAME = "teaching.sqlite3"
READ_ONLY = (
    "the data folder {folder} is read-only, so teaching sets cannot be changed; "
    "set KETAQA_DATA_DIR to a writable folder"
)

_CORRUPTION_MESSAGES = ("not a database", "malformed", "disk image", "file is encrypted")


class TeachingStore(SetOperations):
    """Teaching sets in one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._ready = False
        self._readonly = False
        self._notices: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings) -> TeachingStore:
        return cls(settings.data_dir / DB_NAME)

    # -- connection, schema and damage -----------------------------------------------------------
    def _connect(self, readonly: bool = False) -> sqlite3.Connection:
        if readonly:
            con = _connect_readonly(self.path)
        else:
            con = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        con.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            con.execute("PRAGMA synchronous = NORMAL")
        return con

    @property
    def read_only(self) -> bool:
        self._ensure()
        return self._readonly

    def pop_notice(self) -> str:
        """What the last salvage recovered and lost (once), or ""."""
        with self._lock:
            notices, self._notices = self._notices, []
        return " ".join(notices)

    def _ensure(self) -> None:
        """Create or check the database once; salvage a damaged file (never delete it)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self._readonly = not _writable(self.path)
            problem = self._damage()
            if problem and self._readonly:
                raise TeachingError(
                    f"the teaching-set database {self.path} is damaged ({problem}) and its "
                    "folder is read-only; set KETAQA_DATA_DIR to a writable folder holding a copy"
                )
            if problem:
                self._notices.append(self._recover(problem))
            elif not self._readonly:
                self._create()
            self._ready = True

    def _recover(self, problem: str) -> str:
        """Salvage what can be read into a fresh database, keep the damaged file, explain."""
        fresh = self.path.with_name(f".{self.path.name}.salvage-{os.getpid()}")
        for leftover in (fresh, *(fresh.with_name(fresh.name + x) for x in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        _create_schema(fresh)
        con = sqlite3.connect(fresh, isolation_level=None)
        try:
            report = salvage(self.path, con)
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            con.execute("PRAGMA journal_mode = DELETE")
        finally:
            con.close()
        backup = self._move_aside()
        os.replace(fresh, self.path)
        message = (
            f"the teaching-set database {self.path.name} was damaged ({problem}): "
            f"{report.describe()}. The damaged file is kept as {backup.name} in {backup.parent}."
        )
        log.warning(message)
        return message

    def check(self) -> list[str]:
        """SQLite's full `integrity_check`, read-only: the problems found (empty when fine)."""
        if not self.path.exists():
            return []
        try:
            con = self._connect(readonly=True)
            try:
                rows = [r[0] for r in con.execute("PRAGMA integrity_check")]
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if rows == ["ok"] else rows

    def _damage(self) -> str | None:
        """Why the existing file is not a usable teaching-set database, or None."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        with self.path.open("rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                return "not an SQLite database"
        try:
            con = self._connect(readonly=self._readonly)
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
                    if have and not have <= columns:
                        return f"table {table} is not a teaching-set table"
            finally:
                con.close()
        except sqlite3.OperationalError as exc:
            if _is_corruption(exc):
                return str(exc)
            raise self._failure(exc) from exc
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
        try:
            _create_schema(self.path)
        except sqlite3.DatabaseError as exc:
            raise self._failure(exc) from exc

    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        self._ensure()
        if self._readonly and write:
            raise TeachingError(READ_ONLY.format(folder=self.path.parent))
        try:
            if self._readonly and not self.path.exists():
                con = sqlite3.connect(":memory:", isolation_level=None)  # no sets yet
                con.executescript(_SCHEMA)
            else:
                con = self._connect(readonly=self._readonly)
        except sqlite3.DatabaseError as exc:
            raise self._failure(exc) from exc
        try:
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield con
            con.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            _rollback(con)
            raise self._failure(exc) from exc
        except UnicodeEncodeError as exc:
            _rollback(con)
            raise InputError("the text contains characters that cannot be stored") from exc
        except BaseException:
            _rollback(con)
            raise
        finally:
            con.close()

    def _failure(self, exc: sqlite3.DatabaseError) -> TeachingError:
        if isinstance(exc, sqlite3.IntegrityError):
            return TeachingError(f"that change conflicts with saved data ({exc})")
        text = str(exc).lower()
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return TeachingError(READ_ONLY.format(folder=self.path.parent) + f" ({exc})")
        if _is_corruption(exc):
            with self._lock:
                if not self._readonly and self.path.exists() and self._damage():
                    message = self._recover(str(exc))
                    return TeachingError(f"{message} Try again.")
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


# ---------------------------------------------------------------------------------------------
# Connection helpers


def _rollback(con: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        if con.in_transaction:
            con.execute("ROLLBACK")


def _is_corruption(exc: Exception) -> bool:
    return any(m in str(exc).lower() for m in _CORRUPTION_MESSAGES)
