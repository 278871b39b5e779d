"""Fresh batches: questions written before any fix they could inform, and their first measurement.

A batch is the questions tagged `batch-YYYY-MM-DD[-x]`. The first `ketaqa eval` that covers every
question of a batch records its figures in `eval/batches.json` with the date, the commit and the
question ids. The record is never rewritten, so "before any fix" stays what was measured then; a
batch whose questions changed since is reported as changed, not re-recorded. The newest batch's
first measurement is the headline figure of generalisation (eval/README.md, "Fresh batches").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ketaqa.errors import InputError
from ketaqa.evaluation.dataset import EvalItem, Judgments
from ketaqa.evaluation.runs import RunSet, fresh_metrics
from ketaqa.files import write_atomic

BATCH_TAG = re.compile(r"batch-(?P<date>\d{4}-\d{2}-\d{2})(?:-[a-z0-9])?")
NOTE = (
    "Written by `ketaqa eval` the first time a run covers all of a batch; never edit by hand and "
    "never delete an entry: a first measurement cannot be taken again. See eval/README.md."
)

# Status of a batch in one run.
FIRST_MEASURED_NOW = "first measured in this run"
RETIRED = (
    'retired to dev (eval/README.md, "Splits"): the verdict and the priors are fitted on it, '
    "so its figures now are in-sample; its first measurement is not"
)
RECORDED = "recorded"
CHANGED = "CHANGED since first measured"
NOT_YET_MEASURED = "not yet measured"
MISSING = "recorded, but no longer in the question set"


def is_batch_tag(tag: str) -> bool:
    """`batch-` and a real calendar date, optionally `-` and one lower-case letter or digit."""
    match = BATCH_TAG.fullmatch(tag)
    if match is None:
        return False
    try:
        dt.date.fromisoformat(match["date"])
    except ValueError:
        return False
    return True


def batches_of(items: Sequence[EvalItem]) -> dict[str, list[EvalItem]]:
    """Each batch tag -> its questions in file order, oldest batch first (the tags sort by date)."""
    batches: dict[str, list[EvalItem]] = {}
    for item in items:
        tags = [t for t in item.tags if is_batch_tag(t)]
        if len(tags) > 1:
            raise InputError(f"question {item.id} is in two batches ({', '.join(tags)}); keep one")
        if tags:
            batches.setdefault(tags[0], []).append(item)
    return dict(sorted(batches.items()))


def items_sha256(items: Sequence[EvalItem]) -> str:
    """What a batch asks and what counts as right: an edit after the first measurement shows."""
    ordered = sorted(items, key=lambda i: i.id)
    content = [[i.id, i.question, list(i.gold_spans), i.answerable] for i in ordered]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FirstMeasurement:
    """A batch's figures as measured the first time, before any fix it could inform."""

    date: str
    commit: str | None
    dirty: bool | None
    questions: tuple[str, ...]
    items_sha256: str
    metrics: dict[str, float | int | None]

    def to_json(self) -> dict:
        return {**asdict(self), "questions": list(self.questions)}

    @classmethod
    def from_json(cls, record: object) -> FirstMeasurement:
        """Raises ValueError (turned into a named error by the loader) on a malformed record."""
        if not isinstance(record, dict):
            raise ValueError("an entry is not an object")
        questions, metrics = record.get("questions"), record.get("metrics")
        if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
            raise ValueError("'questions' must be a list of ids")
        if not isinstance(metrics, dict):
            raise ValueError("'metrics' must be an object")
        for key in ("date", "items_sha256"):
            if not isinstance(record.get(key), str):
                raise ValueError(f"{key!r} must be text")
        return cls(
            record["date"],
            record.get("commit"),
            record.get("dirty"),
            tuple(questions),
            record["items_sha256"],
            metrics,
        )


def load_first_measurements(path: Path) -> dict[str, FirstMeasurement]:
    """The recorded batches ({} when there is no file yet); a damaged file is an error that says
    how to restore it, and is never overwritten."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the batch record {path}: {exc}") from exc
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("batches"), dict):
            raise ValueError("expected an object with a 'batches' object")
        records = {}
        for tag, record in data["batches"].items():
            if not is_batch_tag(tag):
                raise ValueError(f"{tag!r} is not a batch tag")
            try:
                records[tag] = FirstMeasurement.from_json(record)
            except ValueError as exc:
                raise ValueError(f"{tag}: {exc}") from exc
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise InputError(
            f"the batch record {path} is damaged ({exc}); it holds first measurements that "
            "cannot be taken again, so it was left as it is: restore it from git "
            f"(git checkout -- {path.name}) or repair it by hand, then run again"
        ) from exc
    return records


def save_first_measurements(path: Path, new: dict[str, FirstMeasurement]) -> list[str]:
    """Add first measurements for batches not yet recorded; return the tags added. The file is
    read again just before writing and an existing entry always wins, so nothing is overwritten."""
    current = load_first_measurements(path)
    added = {tag: m for tag, m in new.items() if tag not in current}
    if not added:
        return []
    merged = dict(sorted({**current, **added}.items()))
    payload = {"note": NOTE, "batches": {tag: m.to_json() for tag, m in merged.items()}}
    write_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return sorted(added)


def batch_section(
    all_items: Sequence[EvalItem],
    run_items: Sequence[EvalItem],
    runset: RunSet,
    qrels: Judgments,
    header: dict,
    recorded: dict[str, FirstMeasurement],
    record: bool = True,
) -> tuple[dict, dict[str, FirstMeasurement]]:
    """The report's batch section (each batch as first measured and now, and the headline), and
    the first measurements this run takes (with `record`): batches not yet recorded that it
    covers entirely."""
    in_run = {i.id for i in run_items}
    current = batches_of(all_items)
    new: dict[str, FirstMeasurement] = {}
    rows = []
    for tag in sorted(set(current) | set(recorded)):
        items = current.get(tag, [])
        ids = [i.id for i in items]
        covered = bool(items) and all(i in in_run for i in ids)
        now = fresh_metrics(items, runset, qrels) if covered else None
        first = recorded.get(tag)
        status, detail = RECORDED, ""
        if first is None and now is not None and record:
            first = new[tag] = FirstMeasurement(
                header.get("date") or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                header.get("commit"),
                header.get("dirty"),
                tuple(ids),
                items_sha256(items),
                now,
            )
            status = FIRST_MEASURED_NOW
        elif first is None:
            status = NOT_YET_MEASURED
            detail = (
                f"{sum(i in in_run for i in ids)} of {len(ids)} questions in this run"
                if now is None
                else "only `ketaqa eval` records a first measurement"
            )
        elif not items:
            status = MISSING
        else:
            detail = changes(first, items)
            status = CHANGED if detail else RECORDED
        split = items[0].split if items else None
        if split == "dev" and status == RECORDED:
            detail = RETIRED  # its first measurement still stands; "now" does not
        rows.append(
            {
                "tag": tag,
                "status": status,
                "detail": detail,
                "split": split,
                "questions": len(items),
                "first": first.to_json() if first else None,
                "now": now,
            }
        )
    newest = rows[-1] if rows else None
    section = {
        "rows": rows,
        "newest": newest["tag"] if newest else None,
        "headline": newest["first"] if newest else None,
    }
    return section, new


def changes(first: FirstMeasurement, items: Sequence[EvalItem]) -> str:
    """How a batch differs from its first measurement ("" when it does not)."""
    was, now = set(first.questions), {i.id for i in items}
    parts = []
    if now - was:
        parts.append("added " + ", ".join(sorted(now - was)))
    if was - now:
        parts.append("removed " + ", ".join(sorted(was - now)))
    if not parts and items_sha256(items) != first.items_sha256:
        parts.append("questions, gold spans or answerability edited")
    return "; ".join(parts)
