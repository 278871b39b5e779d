"""Salvage of a damaged teaching-set database: every row that can still be read is copied into
a fresh database; the damaged file itself is kept, unchanged, beside it.

Rows are read by rowid, in order, and a read that fails on a damaged page is retried just past
the last good row, so one bad page costs the rows on it and no more. SQLite-specific: the
PostgreSQL store has its own recovery.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ketaqa.teaching.schema import ITEM_COLUMNS, SET_COLUMNS

MAX_SKIPS = 100_000  # failed reads tolerated per table before giving up on the rest of it
RECOVERED_SET = "Recovered items"


@dataclass(frozen=True)
class SalvageReport:
    sets: int  # sets copied into the fresh database
    items: int  # items copied
    unreadable: int  # reads that failed on damaged pages (rows on them are lost)
    orphans: int  # items whose set was lost, kept in RECOVERED_SET
    tables_found: bool = True  # False when no teaching-set tables could be read at all

    def describe(self) -> str:
        if not self.tables_found:
            return "no teaching-set tables could be read from it, so a new empty one is in use"
        lost = (
            f"{self.unreadable} read(s) failed on damaged pages and the rows on them are lost"
            if self.unreadable
            else "no unreadable rows were found"
        )
        orphans = f"; {self.orphans} item(s) whose set was lost are in “{RECOVERED_SET}”"
        return f"recovered {self.sets} set(s) and {self.items} item(s); {lost}" + (
            orphans if self.orphans else ""
        )


def read_rows(con: sqlite3.Connection, table: str, columns: list[str]) -> tuple[list[tuple], int]:
    """Every readable row of `table` by ascending id, and how many reads failed."""
    rows: list[tuple] = []
    last, failures = 0, 0
    sql = f"SELECT {', '.join(columns)} FROM {table} WHERE id > ? ORDER BY id"
    try:
        top = con.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
    except sqlite3.DatabaseError:
        top = None
    while failures < MAX_SKIPS and (top is None or last < top):
        try:
            for row in con.execute(sql, (last,)):
                rows.append(row)
                last = row[0]
            break
        except sqlite3.DatabaseError:
            failures += 1
            last += 1
    return rows, failures


def _columns(con: sqlite3.Connection, table: str, wanted: tuple[str, ...]) -> list[str]:
    try:
        have = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
    except sqlite3.DatabaseError:
        return []
    return [c for c in wanted if c in have]


def salvage(damaged: Path, fresh: sqlite3.Connection) -> SalvageReport:
    """Copy what can be read from `damaged` (left unchanged) into the empty schema of `fresh`."""
    with tempfile.TemporaryDirectory(prefix="ketaqa-salvage-") as scratch:
        copy = Path(scratch) / damaged.name
        shutil.copyfile(damaged, copy)  # reading may replay a WAL: never touch the original
        wal = damaged.with_name(damaged.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        try:
            old = sqlite3.connect(copy)
        except sqlite3.DatabaseError:
            return SalvageReport(0, 0, 0, 0, tables_found=False)
        try:
            return _copy_rows(old, fresh)
        finally:
            old.close()


def _copy_rows(old: sqlite3.Connection, fresh: sqlite3.Connection) -> SalvageReport:
    set_cols = _columns(old, "sets", SET_COLUMNS)
    item_cols = _columns(old, "items", ITEM_COLUMNS)
    if set_cols != list(SET_COLUMNS) or item_cols[:8] != list(ITEM_COLUMNS[:8]):
        return SalvageReport(0, 0, 0, 0, tables_found=False)
    sets, set_failures = read_rows(old, "sets", set_cols)
    items, item_failures = read_rows(old, "items", item_cols)
    fresh.execute("BEGIN IMMEDIATE")
    names = set()
    for row in sets:
        if str(row[1]).casefold() in names:
            continue
        names.add(str(row[1]).casefold())
        fresh.execute("INSERT INTO sets(id, name, created, updated) VALUES (?, ?, ?, ?)", row)
    known = {row[0] for row in fresh.execute("SELECT id FROM sets")}
    copied, orphans, bad = 0, 0, 0
    recovered_id = None
    for row in items:
        values = dict(zip(item_cols, row, strict=True))
        try:
            json.loads(values["passages"])
        except (TypeError, ValueError):
            bad += 1
            continue
        if values["set_id"] not in known:
            if recovered_id is None:
                recovered_id = _recovered_set(fresh, names, values["created"])
            values["set_id"] = recovered_id
            orphans += 1
        cols = ", ".join(values)
        marks = ", ".join("?" * len(values))
        fresh.execute(f"INSERT INTO items({cols}) VALUES ({marks})", tuple(values.values()))
        copied += 1
    fresh.execute("COMMIT")
    return SalvageReport(len(known), copied, set_failures + item_failures + bad, orphans)


def _recovered_set(con: sqlite3.Connection, names: set[str], when: str) -> int:
    name, n = RECOVERED_SET, 1
    while name.casefold() in names:
        n += 1
        name = f"{RECOVERED_SET} ({n})"
    names.add(name.casefold())
    cur = con.execute(
        "INSERT INTO sets(name, created, updated) VALUES (?, ?, ?)", (name, when, when)
    )
    return int(cur.lastrowid or 0)
