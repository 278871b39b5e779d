"""The Evaluation tab: score every retriever on a split of the curated question set, list the
failing questions by kind and, for the whole test split, the delta against the accepted gate.

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
from ketaqa.pipeline.answering.assistant import Assistant

EVALUATION_QUEUE = {"concurrency_limit": 1, "concurrency_id": "evaluate"}
REPORT_FILES = ("report.md", "report.json", "metrics.png", "by_tag.png", "reliability.png")
GATE_HEADERS = ["metric", "accepted", "now", "delta", "gate"]
FAILURE_HEADERS = ["kind", "id", "question", "top passage's section", "excerpt", "gold section"]


def evaluate(
    assistant: Assistant,
    split: str,
    limit: float | None,
    progress: Callable[[str], None] | None,
    gate: bool = False,
) -> tuple[dict, Path]:
    """Run the evaluation into a fresh temporary folder: (report, that folder). With `gate`,
    the whole test split is compared with the accepted scores (`eval/expected_scores.json`)."""
    from ketaqa.config import EXPECTED_SCORES_FILE
    from ketaqa.evaluation.gate import load_expected
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
    if n is not None and n < 0:
        raise InputError("limit must be 0 (all) or a positive number")
    baseline = None
    if gate and split == "test" and not n and EXPECTED_SCORES_FILE.exists():
        baseline = load_expected(EXPECTED_SCORES_FILE)
    out_dir = FOLDERS.new(f"eval-{split}-")
    report = run_evaluation(
        assistant, split, out_dir, limit=n, progress=progress, baseline=baseline
    )
    return report, out_dir


def gate_rows(report: dict) -> tuple[str, list[list]]:
    """A one-line gate summary, and the regressed then changed metrics against the gate."""
    comparison = report.get("comparison")
    if not comparison:
        why = report.get("comparison_error") or (
            "the gate holds the whole test split: choose test and 0 (all) to compare"
        )
        return f"Gate: not compared ({why}).", []
    regressed = comparison["regressions"]
    rows = [
        [
            r["metric"],
            r["baseline"],
            r["current"],
            r["delta"],
            "REGRESSED" if r["metric"] in regressed else "ok",
        ]
        for r in comparison["deltas"]
        if r["metric"] in regressed or r["delta"] != 0.0
    ]
    rows.sort(key=lambda row: row[4] != "REGRESSED")
    flips = comparison["flips"]
    broken = len(flips.get("broken", [])) if flips.get("available") else "?"
    summary = (
        f"Gate: {len(regressed)} of {len(comparison['deltas'])} metrics regressed beyond "
        f"{comparison['tolerance']}; {broken} question(s) broken since accepted."
    )
    return summary, rows


def failure_rows(report: dict) -> list[list]:
    """Every failing question under each kind it fails."""
    return [
        [kind, f["id"], f["question"], f["top_section"], f["top_excerpt"], f["gold_section"]]
        for kind, failures in (report.get("failures") or {}).items()
        for f in failures
    ]


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
    gate_table: gr.Dataframe
    failures_table: gr.Dataframe
    metrics_plot: gr.Image
    tag_plot: gr.Image
    reliability_plot: gr.Image
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
    gate_table = gr.Dataframe(
        label="Against the accepted gate (regressed and changed metrics)", interactive=False
    )
    failures_table = gr.Dataframe(label="Failing questions, by kind", interactive=False)
    with gr.Row():
        metrics_plot = gr.Image(label="Metrics", type="filepath", interactive=False)
        tag_plot = gr.Image(label="By tag", type="filepath", interactive=False)
    reliability_plot = gr.Image(label="Verdict reliability", type="filepath", interactive=False)
    report_files = gr.File(label="Report", file_count="multiple", interactive=False)
    return EvalTab(
        split=split,
        limit=limit,
        eval_button=eval_button,
        status=status,
        metrics_table=metrics_table,
        answer_table=answer_table,
        gate_table=gate_table,
        failures_table=failures_table,
        metrics_plot=metrics_plot,
        tag_plot=tag_plot,
        reliability_plot=reliability_plot,
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
            t.gate_table,
            t.failures_table,
            t.metrics_plot,
            t.tag_plot,
            t.reliability_plot,
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
            report, out_dir = evaluate(
                self.assistant, split, limit, _progress_adapter(progress), gate=True
            )
        except (KetaqaError, ImportError, OSError) as exc:
            failed = render.status_html(f"Evaluation failed: {exc}", False)
            return {c: None for c in self.outputs} | {t.status: failed}
        headers, rows = render.metrics_rows(report)
        answer_rows = [[k, v] for k, v in render.flat("", report.get("answer") or {})]
        files = [str(out_dir / f) for f in REPORT_FILES if (out_dir / f).exists()]
        gate_summary, gate = gate_rows(report)
        failures = failure_rows(report)
        regressed = bool((report.get("comparison") or {}).get("regressions"))
        message = (
            f"Evaluated the {split} split: report in {out_dir}. {gate_summary} "
            f"{len(failures)} failure(s) listed below."
        )

        def image(name: str) -> str | None:
            return str(out_dir / name) if (out_dir / name).exists() else None

        return {
            t.status: render.status_html(message, not regressed),
            t.metrics_table: {"headers": headers, "data": rows},
            t.answer_table: {"headers": ["answer metric", "value"], "data": answer_rows},
            t.gate_table: {"headers": GATE_HEADERS, "data": gate},
            t.failures_table: {"headers": FAILURE_HEADERS, "data": failures},
            t.metrics_plot: image("metrics.png"),
            t.tag_plot: image("by_tag.png"),
            t.reliability_plot: image("reliability.png"),
            t.report_files: files or None,
        }


def wire(tab: EvalTab, assistant: Assistant) -> None:
    events = EvalEvents(tab, assistant)
    tab.eval_button.click(
        events.run_eval, [tab.split, tab.limit], events.outputs, **EVALUATION_QUEUE, **PRIVATE
    )
