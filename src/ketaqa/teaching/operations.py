"""The teaching-set operations both stores share, written once over `queries`.

`TeachingStore` (SQLite) and `PostgresStore` differ in how they connect, lock and recover;
what a save, a rename or an import does inside one transaction is the same SQL, so it lives
here and each store provides only `_transaction(write)` and `list_sets`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from ketaqa.errors import InputError
from ketaqa.teaching import queries
from ketaqa.teaching.export import parse_set_json
from ketaqa.teaching.models import (
    MAX_NOTE_CHARS,
    Item,
    SavedPassage,
    SetSummary,
    TeachingError,
    TeachingSet,
    clean_name,
    clean_question,
    clean_request_id,
    clean_text,
    utc_now,
    validate_item,
)


class SetOperations:
    """Every store method that is one transaction of shared SQL; stores add `_transaction`."""

    def _transaction(self, write: bool) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def create_set(self, name: str) -> SetSummary:
        name = clean_name(name)
        with self._transaction(write=True) as con:
            if queries.find_set(con, name) is not None:
                raise TeachingError(f"a set named {name!r} already exists")
            return queries.insert_set(con, name)

    def get_set(self, name: str) -> TeachingSet:
        with self._transaction(write=False) as con:
            return queries.read_set(con, queries.require_set(con, name))

    def rename_set(self, name: str, new_name: str) -> None:
        new_name = clean_name(new_name)
        with self._transaction(write=True) as con:
            set_id = queries.require_set(con, name)
            other = queries.find_set(con, new_name)
            if other is not None and other != set_id:
                raise TeachingError(f"a set named {new_name!r} already exists")
            con.execute(
                "UPDATE sets SET name = ?, updated = ? WHERE id = ?", (new_name, utc_now(), set_id)
            )

    def delete_set(self, name: str) -> None:
        with self._transaction(write=True) as con:
            con.execute("DELETE FROM sets WHERE id = ?", (queries.require_set(con, name),))

    # -- items ----------------------------------------------------------------------------------
    def add_item(
        self,
        set_name: str,
        question: str,
        passages: Sequence[SavedPassage | Mapping],
        note: str = "",
        correct_passage_id: str | None = None,
        create: bool = True,
        request_id: str | None = None,
    ) -> Item:
        """Append an item to a set (created first when `create` and it does not exist).

        With a `request_id`, a retry of a save that was committed returns that item instead of
        adding it again (the write lock makes the check and the insert one step); the item's
        `set_name` is the set's name as stored."""
        name = clean_name(set_name)
        request_id = clean_request_id(request_id)
        question, checked, note, correct = validate_item(
            question, passages, note, correct_passage_id
        )
        with self._transaction(write=True) as con:
            if request_id and (done := queries.item_for_request(con, request_id)) is not None:
                return done
            set_id = queries.find_set(con, name)
            if set_id is None:
                if not create:
                    raise TeachingError(f"there is no set named {name!r}")
                set_id = queries.insert_set(con, name).id
            return queries.insert_item(con, set_id, question, checked, note, correct, request_id)

    def delete_item(self, item_id: int) -> None:
        with self._transaction(write=True) as con:
            set_id = queries.item_set(con, item_id)
            con.execute("DELETE FROM items WHERE id = ?", (item_id,))
            queries.renumber(con, set_id)

    def move_item(self, item_id: int, offset: int) -> None:
        """Move an item up (offset < 0) or down (offset > 0) within its set."""
        with self._transaction(write=True) as con:
            set_id = queries.item_set(con, item_id)
            ids = queries.item_ids(con, set_id)
            here = ids.index(item_id)
            there = max(0, min(len(ids) - 1, here + offset))
            ids.insert(there, ids.pop(here))
            queries.write_order(con, set_id, ids)

    def reorder(self, set_name: str, item_ids: Sequence[int]) -> None:
        """Put the set's items in this order; the list must name each item exactly once."""
        with self._transaction(write=True) as con:
            set_id = queries.require_set(con, set_name)
            have = queries.item_ids(con, set_id)
            if sorted(item_ids) != sorted(have):
                raise TeachingError("the new order must list every item of the set exactly once")
            queries.write_order(con, set_id, list(item_ids))

    def update_item(
        self,
        item_id: int,
        note: str | None = None,
        correct_passage_id: str | None = None,
        question: str | None = None,
    ) -> None:
        """Change an item's note, its correct-answer passage ("" clears it), its question."""
        if question is not None:
            question = clean_question(question)
        with self._transaction(write=True) as con:
            set_id = queries.item_set(con, item_id)
            row = con.execute("SELECT passages FROM items WHERE id = ?", (item_id,)).fetchone()
            ids = [p["id"] for p in json.loads(row[0])]
            if note is not None:
                note = clean_text(note, "note", MAX_NOTE_CHARS, required=False)
                con.execute("UPDATE items SET note = ? WHERE id = ?", (note, item_id))
            if question is not None:
                con.execute("UPDATE items SET question = ? WHERE id = ?", (question, item_id))
            if correct_passage_id is not None:
                if correct_passage_id and correct_passage_id not in ids:
                    raise InputError("the correct answer must be one of the item's passages")
                con.execute(
                    "UPDATE items SET correct_passage_id = ? WHERE id = ?",
                    (correct_passage_id or None, item_id),
                )
            queries.touch(con, set_id)

    # -- import ---------------------------------------------------------------------------------
    def import_json(self, data: str | bytes, name: str | None = None) -> TeachingSet:
        """Add a set from an exported JSON file; all or nothing. A taken name gets " (2)"."""
        set_name, items = parse_set_json(data)
        if name:
            set_name = clean_name(name)
        with self._transaction(write=True) as con:
            set_id = queries.insert_set(con, queries.unused_name(con, set_name)).id
            for question, passages, note, correct in items:
                queries.insert_item(con, set_id, question, passages, note, correct)
            return queries.read_set(con, set_id)
