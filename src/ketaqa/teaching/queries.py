"""Statements that several teaching-store operations share; each runs inside the caller's
transaction (see `TeachingStore._transaction`) and never commits on its own."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from ketaqa.errors import InputError
from ketaqa.teaching.models import (
    MAX_NAME_CHARS,
    Item,
    SavedPassage,
    SetSummary,
    TeachingError,
    TeachingSet,
    clean_name,
    name_key,
    utc_now,
)


def find_set(con: sqlite3.Connection, name: str) -> int | None:
    """The id of the set called `name` (case-folded, invisible characters and runs of spaces
    ignored), or None."""
    key = name_key(name)
    row = con.execute("SELECT id FROM sets WHERE name = ?", (" ".join(str(name).split()),))
    found = row.fetchone()
    if found:
        return int(found[0])
    for set_id, stored in con.execute("SELECT id, name FROM sets"):  # non-ASCII case folding
        if name_key(stored) == key:
            return int(set_id)
    return None


def unused_name(con: sqlite3.Connection, name: str) -> str:
    """`name`, or `name (2)`, `name (3)`... whichever is free (cut to fit the name limit)."""
    base, n = name, 1
    while find_set(con, name) is not None:
        n += 1
        suffix = f" ({n})"
        name = base[: MAX_NAME_CHARS - len(suffix)] + suffix
    return name


def insert_set(con: sqlite3.Connection, name: str) -> SetSummary:
    """The one place a set is created; the caller has checked that `name` is free."""
    now = utc_now()
    cur = con.execute("INSERT INTO sets(name, created, updated) VALUES (?, ?, ?)", (name, now, now))
    return SetSummary(int(cur.lastrowid or 0), name, 0, now, now)


def require_set(con: sqlite3.Connection, name: str) -> int:
    if not isinstance(name, str) or not name.strip():
        raise InputError("choose a teaching set first")
    name = clean_name(name)
    set_id = find_set(con, name)
    if set_id is None:
        raise TeachingError(f"there is no set named {name!r}")
    return set_id


def item_set(con: sqlite3.Connection, item_id: int) -> int:
    if isinstance(item_id, bool) or not isinstance(item_id, int):
        raise InputError("choose an item first")
    row = con.execute("SELECT set_id FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise TeachingError(f"there is no item {item_id}; it may have been deleted")
    return int(row[0])


def item_ids(con: sqlite3.Connection, set_id: int) -> list[int]:
    rows = con.execute(
        "SELECT id FROM items WHERE set_id = ? ORDER BY position, id", (set_id,)
    ).fetchall()
    return [int(r[0]) for r in rows]


def write_order(con: sqlite3.Connection, set_id: int, ids: list[int]) -> None:
    con.executemany(
        "UPDATE items SET position = ? WHERE id = ?", [(n, i) for n, i in enumerate(ids)]
    )
    touch(con, set_id)


def renumber(con: sqlite3.Connection, set_id: int) -> None:
    write_order(con, set_id, item_ids(con, set_id))


def touch(con: sqlite3.Connection, set_id: int) -> None:
    con.execute("UPDATE sets SET updated = ? WHERE id = ?", (utc_now(), set_id))


def insert_item(
    con: sqlite3.Connection,
    set_id: int,
    question: str,
    passages: Iterable[SavedPassage],
    note: str,
    correct: str | None,
    request_id: str | None = None,
) -> Item:
    position = con.execute(
        "SELECT COALESCE(MAX(position) + 1, 0) FROM items WHERE set_id = ?", (set_id,)
    ).fetchone()[0]
    now = utc_now()
    passages = tuple(passages)
    cur = con.execute(
        "INSERT INTO items(set_id, position, question, note, correct_passage_id, passages, "
        "created, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            set_id,
            position,
            question,
            note,
            correct,
            json.dumps([p.to_dict() for p in passages], ensure_ascii=False),
            now,
            request_id,
        ),
    )
    touch(con, set_id)
    set_name = con.execute("SELECT name FROM sets WHERE id = ?", (set_id,)).fetchone()[0]
    item_id = int(cur.lastrowid or 0)
    return Item(item_id, position + 1, question, passages, note, correct, now, set_name)


def item_for_request(con: sqlite3.Connection, request_id: str) -> Item | None:
    """The item a committed save with this client request id made, or None."""
    row = con.execute("SELECT id, set_id FROM items WHERE request_id = ?", (request_id,))
    found = row.fetchone()
    if found is None:
        return None
    ts = read_set(con, int(found[1]))
    return next((i for i in ts.items if i.id == found[0]), None)


def read_set(con: sqlite3.Connection, set_id: int) -> TeachingSet:
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
        items.append(Item(item_id, n, question, saved, note, correct, item_created, name))
    return TeachingSet(set_id, name, created, updated, tuple(items))
