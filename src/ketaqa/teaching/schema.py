"""The SQLite file of the teaching store: its schema (and the step from version 1), how it is
opened read-only, and whether its folder can be written."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

SCHEMA_VERSION = 2  # 2: items.request_id, for idempotent saves
BUSY_TIMEOUT_MS = 10_000

SCHEMA = """
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
    created TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX IF NOT EXISTS items_by_set ON items(set_id, position);
CREATE UNIQUE INDEX IF NOT EXISTS items_by_request ON items(request_id)
    WHERE request_id IS NOT NULL;
"""
# The columns in table order: salvage copies rows by position, the stores check them as sets.
SET_COLUMNS = ("id", "name", "created", "updated")
ITEM_COLUMNS = (
    "id",
    "set_id",
    "position",
    "question",
    "note",
    "correct_passage_id",
    "passages",
    "created",
    "request_id",
)
COLUMNS = {"sets": set(SET_COLUMNS), "items": set(ITEM_COLUMNS)}


def writable(path: Path) -> bool:
    """Whether the database (and its folder, for the WAL files) can be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return False
    return not path.exists() or os.access(path, os.W_OK)


def connect_readonly(path: Path) -> sqlite3.Connection:
    """`mode=ro`; when SQLite cannot even create its shared-memory file beside a WAL database
    in a read-only folder, `immutable=1` (nothing can be writing it there anyway)."""
    uri = path.resolve().as_uri()
    try:
        con = sqlite3.connect(
            f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return con
    except sqlite3.OperationalError:
        return sqlite3.connect(
            f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None, check_same_thread=False
        )


def create_schema(path: Path) -> None:
    """Create the tables (or add what an older schema lacks) in one transaction."""
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("BEGIN IMMEDIATE")
        have = {row[1] for row in con.execute("PRAGMA table_info(items)")}
        if have and "request_id" not in have:
            con.execute("ALTER TABLE items ADD COLUMN request_id TEXT")
        for statement in filter(str.strip, SCHEMA.split(";")):
            con.execute(statement)
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.execute("COMMIT")
    finally:
        con.close()
