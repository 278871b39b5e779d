"""What every teaching-set store offers, and the one place that chooses a store.

`TeachingStore` (SQLite, the default: one file under `data/`) and `PostgresStore` (when
`KETAQA_DATABASE_URL` is set, so several app replicas share one set of teaching sets) both
satisfy `SetStore`; front ends ask `open_store(settings)` and never name a backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from ketaqa.config import Settings
from ketaqa.teaching.models import Item, SavedPassage, SetSummary, TeachingSet


@runtime_checkable
class SetStore(Protocol):
    """Teaching sets and their items; every method is one transaction, all or nothing."""

    def list_sets(self) -> list[SetSummary]: ...
    def create_set(self, name: str) -> SetSummary: ...
    def get_set(self, name: str) -> TeachingSet: ...
    def rename_set(self, name: str, new_name: str) -> None: ...
    def delete_set(self, name: str) -> None: ...

    def add_item(
        self,
        set_name: str,
        question: str,
        passages: Sequence[SavedPassage | Mapping],
        note: str = "",
        correct_passage_id: str | None = None,
        create: bool = True,
        request_id: str | None = None,
    ) -> Item: ...

    def delete_item(self, item_id: int) -> None: ...
    def move_item(self, item_id: int, offset: int) -> None: ...
    def reorder(self, set_name: str, item_ids: Sequence[int]) -> None: ...
    def update_item(
        self,
        item_id: int,
        note: str | None = None,
        correct_passage_id: str | None = None,
        question: str | None = None,
    ) -> None: ...
    def import_json(self, data: str | bytes, name: str | None = None) -> TeachingSet: ...


def open_store(settings: Settings) -> SetStore:
    """PostgreSQL when `settings.database_url` is set, else the SQLite file in `data_dir`."""
    if settings.database_url:
        from ketaqa.teaching.postgres import PostgresStore

        return PostgresStore(settings.database_url)
    from ketaqa.teaching.store import TeachingStore

    return TeachingStore.for_settings(settings)
