"""One evaluation end to end: load a split, rank and score it, write the report files.

`ketaqa eval` and the app's Evaluation tab both run this, so they report the same numbers.
"""

from __future__ import annotations

from pathlib import Path

from ketaqa.config import QUESTIONS_FILE
from ketaqa.errors import InputError
from ketaqa.evaluation.dataset import load_questions
from ketaqa.evaluation.report import write_report
from ketaqa.evaluation.runs import evaluate_items, significance
from ketaqa.pipeline.assistant import Assistant
from ketaqa.progress import Progress, quiet


def run_evaluation(
    assistant: Assistant,
    split: str,
    out_dir: Path,
    questions_path: Path | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> dict:
    """Evaluate one split (or "all"), write the report files, return the report.

    A progress bar is drawn only when a `progress` callback is given (a front end is watching)."""
    say = progress or quiet
    items = load_questions(questions_path or QUESTIONS_FILE)
    items = [i for i in items if split == "all" or i.split == split]
    if limit:
        items = items[:limit]
    if not items:
        raise InputError(f"no questions in split {split!r}")
    say(f"evaluating {len(items)} questions ({split})")
    report, runset, qrels = evaluate_items(assistant, items, split, progress=progress is not None)
    if qrels and len(qrels) > 1:
        report["significance"] = significance(qrels, runset.runs)
    write_report(report, runset, qrels, out_dir)
    say(f"report written to {out_dir}")
    return report
