"""`ketaqa eval`: tune on dev if asked, evaluate, compare with a baseline, accept, report.

Exit codes: 0 when no gated metric regressed, 1 when one did (for CI and maintainers), 2 for
bad input (from the CLI's error handler).
"""

from __future__ import annotations

import argparse
import datetime as dt

from ketaqa.config import EXPECTED_SCORES_FILE, QUESTIONS_FILE, REPORTS_DIR, Settings
from ketaqa.errors import InputError
from ketaqa.evaluation.compare import comparison_lines
from ketaqa.evaluation.dataset import load_questions
from ketaqa.evaluation.gate import accept, load_baseline
from ketaqa.evaluation.report import report_markdown
from ketaqa.evaluation.run import run_evaluation
from ketaqa.evaluation.tune import fit_verdict, tune, write_tuned_settings
from ketaqa.pipeline.answering.assistant import Assistant
from ketaqa.progress import Progress


def check_eval_args(args: argparse.Namespace) -> None:
    """Refuse combinations that would write a misleading gate, before any work is done."""
    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be a positive number of questions")
    if args.accept and args.expected is None:
        partial = args.limit or args.questions or (args.split or "test") != "test"
        if partial:
            raise InputError(
                "--accept writes the project's gate from the whole curated test split; "
                "drop --limit/--questions/--split, or write elsewhere with --expected PATH"
            )


def cmd_eval(args: argparse.Namespace, progress: Progress) -> int:
    check_eval_args(args)
    settings = Settings.from_env()
    assistant = Assistant.open_for_queries(settings, progress=progress)
    questions = args.questions or QUESTIONS_FILE
    split = args.split or ("all" if args.questions else "test")
    expected = args.expected or EXPECTED_SCORES_FILE
    baseline = load_baseline(args.baseline, expected) if args.baseline else None
    if args.tune:
        dev = [i for i in load_questions(questions) if i.split == "dev"]
        path = write_tuned_settings(tune(assistant, dev, progress))
        progress(f"tuned settings written to {path}")
        settings = Settings.from_env()  # reads the file just written
        assistant = Assistant(settings, assistant.encoder, assistant.index)
        fit_verdict(assistant, dev, progress).save(settings.verdict_model_file)
        progress(f"verdict model written to {settings.verdict_model_file}")
        assistant = Assistant(settings, assistant.encoder, assistant.index)
    out = args.out or REPORTS_DIR / dt.datetime.now().strftime("%Y-%m-%dT%H%M%S")
    report = run_evaluation(
        assistant,
        split,
        out,
        questions,
        limit=args.limit,
        progress=progress,
        baseline=baseline,
        record_batches=True,  # a batch's first full run is recorded in eval/batches.json
    )
    print(report_markdown(report))
    if args.accept:
        for path in accept(report, expected):
            progress(f"accepted: {path}")
    if report.get("comparison_error"):
        raise InputError(f"not compared: {report['comparison_error']}")
    comparison = report.get("comparison")
    if comparison is None:
        return 0
    print("\n".join(comparison_lines(comparison)))
    return 1 if comparison["regressions"] else 0
