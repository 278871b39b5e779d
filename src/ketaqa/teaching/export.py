"""Teaching-set exports, and the strict reader of the JSON export.

Handouts (student version and answer key, Markdown or printable HTML: handout.py), CSV (one
row per passage), JSON (the lossless form that `parse_set_json` reads back, strictly
validated) and evaluation items in the format of `eval/questions.jsonl`. Exports are pure
functions of a `TeachingSet`; only `write_export` touches the disk.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import unicodedata
from pathlib import Path

from ketaqa.config import QUESTIONS_FILE
from ketaqa.errors import InputError
from ketaqa.files import write_atomic
from ketaqa.teaching.handout import md_escape, to_html, to_markdown
from ketaqa.teaching.models import (
    ItemFields,
    TeachingError,
    TeachingSet,
    check_keys,
    clean_name,
    utc_now,
    validate_item,
)

EXPORT_FORMAT = "ketaqa-teaching-set"
EXPORT_VERSION = 1
# "markdown" is the teacher's handout with the answers marked (the answer key); "student" has no
# answer marks; "html" and "html-key" are the printable pages of each (see handout.py).
EXPORT_KINDS = ("student", "markdown", "html", "html-key", "csv", "json", "eval")
EXTENSIONS = {
    "student": "md",
    "markdown": "md",
    "html": "html",
    "html-key": "html",
    "csv": "csv",
    "json": "json",
    "eval": "jsonl",
}
STEM_SUFFIX = {
    "student": "-student",
    "html": "-student",
    "html-key": "-answer-key",
    "eval": "-eval-items",
}

MAX_ITEMS = 1_000
MAX_IMPORT_BYTES = 10_000_000

_ITEM_REQUIRED = {"question", "passages"}
_ITEM_OPTIONAL = {"note", "correct_passage_id", "created"}
_SET_REQUIRED = {"format", "version", "name", "items"}
_SET_OPTIONAL = {"exported", "created"}


# ---------------------------------------------------------------------------------------------
# JSON, both ways


def to_json(ts: TeachingSet) -> str:
    """The lossless export that `parse_set_json` (and so `TeachingStore.import_json`) reads back."""
    doc = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "name": ts.name,
        "exported": utc_now(),
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


def parse_set_json(data: str | bytes) -> tuple[str, list[ItemFields]]:
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
    doc = check_keys(doc, _SET_REQUIRED, _SET_OPTIONAL, "the file")
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
        raw = check_keys(raw, _ITEM_REQUIRED, _ITEM_OPTIONAL, where)
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
# Handout, spreadsheet and evaluation items


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
    """One row per saved passage; the user's words are Markdown-escaped as in the handout, so
    a cell pasted into a Markdown document cannot add a heading, link or image."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in ts.items:
        for n, p in enumerate(item.passages, start=1):
            row = (
                md_escape(ts.name),
                item.position,
                md_escape(item.question),
                md_escape(item.note),
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
    continue after the highest id in `questions_path` (default `config.QUESTIONS_FILE`)."""
    if questions_path is None:
        questions_path = QUESTIONS_FILE
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
                "gold_spans": [correct.highlight or correct.text],
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


def safe_filename(name: str, extension: str) -> str:
    """A file name made from a set name: ASCII letters, digits, '-', '_' only; no paths."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_name).strip("-_")[:60].strip("-_")
    extension = re.sub(r"[^a-z0-9]", "", extension.lower()) or "txt"
    return f"{stem or 'teaching-set'}.{extension}"


def export_text(
    ts: TeachingSet,
    kind: str,
    notice: str = "",
    questions_path: Path | None = None,
    source: str = "",
) -> str:
    """The export of `kind` as text; `source` names the statement (title, college, date)."""
    if kind in ("student", "markdown"):
        return to_markdown(ts, notice, source, answers=kind == "markdown")
    if kind in ("html", "html-key"):
        return to_html(ts, notice, source, answers=kind == "html-key")
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
    source: str = "",
) -> Path:
    """Write an export into `out_dir` under a sanitised file name; the path written."""
    text = export_text(ts, kind, notice, questions_path, source)
    stem = ts.name + STEM_SUFFIX.get(kind, "")
    path = out_dir / safe_filename(stem, EXTENSIONS[kind])
    if path.resolve().parent != out_dir.resolve():
        raise TeachingError("refusing to write an export outside its folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    # utf-8-sig for CSV so spreadsheet programs read the dashes and quotes correctly
    write_atomic(path, text.encode("utf-8-sig" if kind == "csv" else "utf-8"))
    return path
