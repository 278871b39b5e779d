"""The curated question set and its relevance judgments (qrels).

`load_questions` is the one reader of `eval/questions.jsonl`. Relevance is judged by gold spans,
not passage ids: a passage is relevant to a question when it contains one of the question's
gold spans (white space folded), so judgments survive re-chunking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ketaqa.config import QUESTIONS_FILE
from ketaqa.errors import InputError
from ketaqa.pipeline.documents.passages import Passage

Judgments = dict[str, dict[str, int]]  # qrels: question id -> {relevant passage id: 1}

ITEM_KEYS = {
    "id": str,
    "question": str,
    "gold_spans": list,
    "reference_key": (str, type(None)),
    "tags": list,
    "split": str,
    "answerable": bool,
}


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    gold_spans: tuple[str, ...]
    reference_key: str | None
    tags: tuple[str, ...]
    split: str
    answerable: bool


def load_questions(path: Path = QUESTIONS_FILE) -> list[EvalItem]:
    """Read and validate the question set; a bad line is named, nothing is half-loaded."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise InputError(f"question set not found: {path}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text") from exc
    items, seen = [], set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path.name} line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise InputError(f"{path.name} line {number}: not a JSON object")
        for key, kind in ITEM_KEYS.items():
            if not isinstance(record.get(key), kind):
                raise InputError(f"{path.name} line {number}: field {key!r} missing or wrong type")
        if any(not isinstance(s, str) or not s.strip() for s in record["gold_spans"]):
            raise InputError(f"{path.name} line {number}: gold spans must be non-empty text")
        if record["id"] in seen:
            raise InputError(f"{path.name} line {number}: duplicate id {record['id']!r}")
        seen.add(record["id"])
        items.append(
            EvalItem(
                record["id"],
                record["question"],
                tuple(record["gold_spans"]),
                record["reference_key"],
                tuple(record["tags"]),
                record["split"],
                record["answerable"],
            )
        )
    if not items:
        raise InputError(f"{path} has no questions")
    return items


def fold(text: str) -> str:
    """White space folded to single spaces, so a gold span matches across line breaks."""
    return re.sub(r"\s+", " ", text).strip()


def relevant_ids(passages: Sequence[Passage], item: EvalItem) -> set[str]:
    spans = [fold(s) for s in item.gold_spans]
    return {p.id for p in passages if any(s in fold(p.text) for s in spans)}


def build_qrels(passages: Sequence[Passage], items: Sequence[EvalItem]) -> Judgments:
    """Judgments for every answerable item some passage contains a gold span of; the others
    (unanswerable, or unjudgeable) are left out, so retrieval metrics skip them."""
    qrels = {}
    for item in items:
        if item.answerable:
            relevant = relevant_ids(passages, item)
            if relevant:
                qrels[item.id] = {pid: 1 for pid in sorted(relevant)}
    return qrels
