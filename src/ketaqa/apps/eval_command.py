"""`ketaqa eval [--tune]`: tune on dev if asked, evaluate a split, print the Markdown report."""

from __future__ import annotations

import argparse
import datetime as dt

from ketaqa.config import QUESTIONS_FILE, REPORTS_DIR, Settings
from ketaqa.evaluation.dataset import load_questions
from ketaqa.evaluation.report import report_markdown
from ketaqa.evaluation.run import run_evaluation
from ketaqa.evaluation.tune import fit_verdict, tune, write_tuned_settings
from ketaqa.pipeline.assistant import Assistant
from ketaqa.progress import Progress


def cmd_eval(args: argparse.Namespace, progress: Progress) -> int:
    settings = Settings.from_env()
    assistant = Assistant.open_for_queries(settings, progress=progress)
    questions = args.questions or QUESTIONS_FILE
    if args.tune:
        dev = [i for i in load_questions(questions) if i.split == "dev"]
        path = write_tuned_settings(tune(assistant, dev, progress))
        progress(f"tuned settings written to {path}")
        settings = Settings.from_env()  # reads the file just written
        assistant = Assistant(settings, assistant.encoder, assistant.index)
        fit_verdict(assistant, dev, progress).save(settings.verdict_model_file)
        progress(f"verdict model written to {settings.verdict_model_file}")
        assistant = Assistant(settings, assistant.encoder, assistant.index)
    out = args.out or REPORTS_DIR / dt.date.today().isoformat()
    report = run_evaluation(assistant, args.split, out, questions, progress=progress)
    print(report_markdown(report))
    return 0
