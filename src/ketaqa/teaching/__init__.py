"""Educators' teaching sets: records and validation (`models`), the SQLite store (`store`,
`queries`), the PostgreSQL store (`postgres`), the interface both satisfy and the factory that
picks one (`protocol`), and the exports (`export`). Other packages use the names below as
`from ketaqa import teaching` then `teaching.TeachingStore`, `teaching.write_export`, ..."""

from ketaqa.teaching.export import (
    CSV_COLUMNS,
    EXPORT_KINDS,
    EXTENSIONS,
    bold_lines,
    eval_items,
    export_text,
    parse_set_json,
    safe_filename,
    to_csv,
    to_eval_jsonl,
    to_json,
    to_markdown,
    write_export,
)
from ketaqa.teaching.models import (
    Item,
    SavedPassage,
    SetSummary,
    TeachingError,
    TeachingSet,
    clean_name,
)
from ketaqa.teaching.protocol import SetStore, open_store
from ketaqa.teaching.store import BUSY_TIMEOUT_MS, DB_NAME, TeachingStore

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CSV_COLUMNS",
    "DB_NAME",
    "EXPORT_KINDS",
    "EXTENSIONS",
    "Item",
    "SavedPassage",
    "SetStore",
    "SetSummary",
    "TeachingError",
    "TeachingSet",
    "TeachingStore",
    "bold_lines",
    "clean_name",
    "eval_items",
    "export_text",
    "open_store",
    "parse_set_json",
    "safe_filename",
    "to_csv",
    "to_eval_jsonl",
    "to_json",
    "to_markdown",
    "write_export",
]
