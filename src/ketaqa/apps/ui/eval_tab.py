"""The Evaluation tab: score every retriever on a split of the curated question set.

One evaluation runs at a time (`concurrency_id="evaluate"`, shared with the /evaluate endpoint):
it is the slowest thing the app does and it uses every core.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ketaqa.apps.ui import render
from ketaqa.apps.ui.guard import FOLDERS
from ketaqa.apps.ui.widgets import PRIVATE, html_box
from ketaqa.errors import InputError, KetaqaError
from ketaqa.pipeline.assistant import Assistant

EVALUATION_QUEUE = {"concurrency_limit": 1, "concurrency_id": "evaluate"}
REPORT_FILES = ("report.md", "report.json", "metrics.png", "by_tag.png")


def evaluate(
    assistant: Assistant,
    split: str,
    limit: float | None,
    progress: Callable[[str], None] | None,
) -> tuple[dict, Path]:
    """Run the evaluation into a fresh temporary folder: (report, that folder)."""
    from ketaqa.evaluation.run import (
        run_evaluation,  # lazily: matplotlib and ranx load only here
    )

    if split not in ("dev", "test"):
        raise InputError("split must be dev or test")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))):
        raise InputError("limit must be a whole number (0 = all)")
    if limit and (limit != limit or limit != int(limit) or limit < 0):
        raise InputError("limit must be 0 (all) or a positive whole number")
    n = int(limit) if limit else None
    out_dir = FOLDERS.new(f"eval-{split}-")
    report = run_evaluation(assistant, split, out_dir, limit=n, progress=progress)
    return report, out_dir


def _progress_adapter(progress: gr.Progress) -> Callable[[str], None]:
    """run_evaluation reports messages; show each one on the progress bar."""

    def report(message: str) -> None:
        progress(None, desc=str(message))

    return report


@dataclass(frozen=True)
class EvalTab:
    split: gr.Radio
    limit: gr.Number
    eval_button: gr.Button
    status: gr.HTML
    metrics_table: gr.Dataframe
    answer_table: gr.Dataframe
    metrics_plot: gr.Image
    tag_plot: gr.Image
    report_files: gr.File


def build() -> EvalTab:
    """The tab's components, laid out; call inside `gr.Tab`."""
    gr.Markdown(
        "Score every retriever on the curated question set (`eval/questions.jsonl`). "
        "Tune on **dev**; report on **test**."
    )
    with gr.Row():
        split = gr.Radio(["dev", "test"], value="dev", label="Split")
        limit = gr.Number(value=0, precision=0, minimum=0, label="Questions (0 = all)")
        eval_button = gr.Button("Run evaluation", variant="primary")
    status = html_box()
    metrics_table = gr.Dataframe(label="Retrieval metrics", interactive=False)
    answer_table = gr.Dataframe(label="Answer metrics", interactive=False)
    with gr.Row():
        metrics_plot = gr.Image(label="Metrics", type="filepath", interactive=False)
        tag_plot = gr.Image(label="By tag", type="filepath", interactive=False)
    report_files = gr.File(label="Report", file_count="multiple", interactive=False)
    return EvalTab(
        split=split,
        limit=limit,
        eval_button=eval_button,
        status=status,
        metrics_table=metrics_table,
        answer_table=answer_table,
        metrics_plot=metrics_plot,
        tag_plot=tag_plot,
        report_files=report_files,
    )


@dataclass(frozen=True)
class EvalEvents:
    tab: EvalTab
    assistant: Assistant

    @property
    def outputs(self) -> list[gr.components.Component]:
        t = self.tab
        return [
            t.status,
            t.metrics_table,
            t.answer_table,
            t.metrics_plot,
            t.tag_plot,
            t.report_files,
        ]

    def run_eval(
        self,
        split: str,
        limit: float | None,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (Gradio's idiom)
    ) -> dict:
        t = self.tab
        try:
            report, out_dir = evaluate(self.assistant, split, limit, _progress_adapter(progress))
        except (KetaqaError, ImportError, OSError) as exc:
            failed = render.status_html(f"Evaluation failed: {exc}", False)
            return {c: None for c in self.outputs} | {t.status: failed}
        headers, rows = render.metrics_rows(report)
        answer_rows = [[k, v] for k, v in render.flat("", report.get("answer") or {})]
        files = [str(out_dir / f) for f in REPORT_FILES if (out_dir / f).exists()]
        image = out_dir / "metrics.png"
        by_tag = out_dir / "by_tag.png"
        return {
            t.status: render.status_html(f"Evaluated the {split} split: report in {out_dir}"),
            t.metrics_table: {"headers": headers, "data": rows},
            t.answer_table: {"headers": ["answer metric", "value"], "data": answer_rows},
            t.metrics_plot: str(image) if image.exists() else None,
            t.tag_plot: str(by_tag) if by_tag.exists() else None,
            t.report_files: files or None,
        }


def wire(tab: EvalTab, assistant: Assistant) -> None:
    events = EvalEvents(tab, assistant)
    tab.eval_button.click(
        events.run_eval, [tab.split, tab.limit], events.outputs, **EVALUATION_QUEUE, **PRIVATE
    )
