"""One evaluation end to end: load a split, rank and score it, compare, write the report files.

`ketaqa eval` and the app's Evaluation tab both run this, so they report the same numbers.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from ketaqa.config import QUESTIONS_FILE
from ketaqa.errors import InputError
from ketaqa.evaluation.batches import (
    CHANGED,
    batch_section,
    load_first_measurements,
    save_first_measurements,
)
from ketaqa.evaluation.compare import compare
from ketaqa.evaluation.dataset import load_questions
from ketaqa.evaluation.gate import Baseline
from ketaqa.evaluation.outcomes import failures_by_kind, question_outcomes
from ketaqa.evaluation.provenance import report_header
from ketaqa.evaluation.report import write_report
from ketaqa.evaluation.runs import evaluate_items, significance
from ketaqa.pipeline.answering.assistant import Assistant
from ketaqa.progress import Progress, quiet


def run_evaluation(
    assistant: Assistant,
    split: str,
    out_dir: Path,
    questions_path: Path | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
    baseline: Baseline | None = None,
    record_batches: bool = False,
) -> dict:
    """Evaluate one split (or "all"), compare it with `baseline` if one is given, write the
    report files, return the report.

    Fresh batches are read from `batches.json` beside the question file; with `record_batches`
    (`ketaqa eval`), a batch this run covers entirely and that has no record yet is recorded.
    A progress bar is drawn only when a `progress` callback is given (a front end is watching)."""
    say = progress or quiet
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    questions_path = questions_path or QUESTIONS_FILE
    batches_file = questions_path.with_name("batches.json")
    recorded = load_first_measurements(batches_file)  # a damaged record stops the run here
    all_items = load_questions(questions_path)
    items = [i for i in all_items if split == "all" or i.split == split]
    if limit:
        items = items[:limit]
    if not items:
        raise InputError(f"no questions in split {split!r} of {questions_path.name}")
    say(f"evaluating {len(items)} questions ({split})")
    report, runset, qrels = evaluate_items(assistant, items, split, progress=progress is not None)
    if qrels and len(qrels) > 1:
        report["significance"] = significance(qrels, runset.runs)
    outcomes = question_outcomes(items, runset.answers, qrels, assistant.index.passages)
    report["failures"] = failures_by_kind(outcomes)
    report["question_outcomes"] = outcomes
    report["header"] = report_header(
        assistant, questions_path, started, time.perf_counter() - clock
    )
    if limit:
        report["header"]["limit"] = limit
    report["batches"], first = batch_section(
        all_items, items, runset, qrels, report["header"], recorded, record_batches
    )
    report["batches"]["record"] = str(batches_file)
    if first:
        for tag in save_first_measurements(batches_file, first):
            say(f"first measurement of {tag} recorded in {batches_file}")
    for row in report["batches"]["rows"]:
        if row["status"] == CHANGED:
            say(f"WARNING: {row['tag']} {row['status']} ({row['detail']}); its record is kept")
    if baseline is not None:
        try:
            report["comparison"] = compare(report, baseline)
        except InputError as exc:  # keep the run: say why it could not be compared
            report["comparison_error"] = str(exc)
    write_report(report, runset, qrels, out_dir)
    say(f"report written to {out_dir}")
    return report
