"""The report files of one evaluation: JSON, Markdown, TREC qrels and runs, two figures.

`ketaqa eval` writes them under `config.REPORTS_DIR/<date>/` unless told otherwise; the app's
Evaluation tab writes them to a temporary folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from ketaqa.evaluation.dataset import Judgments
from ketaqa.evaluation.runs import METRIC_NAMES, RunSet
from ketaqa.files import write_atomic


def write_report(report: dict, runset: RunSet, qrels: Judgments, out_dir: Path) -> None:
    """report.json, report.md, qrels and runs as TREC files, and the two figures."""
    from ranx import Qrels, Run

    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "report.json", json.dumps(report, indent=2, ensure_ascii=False))
    write_atomic(out_dir / "report.md", report_markdown(report))
    if qrels:
        Qrels.from_dict(qrels).save(str(out_dir / "qrels.trec"), kind="trec")
    runs_dir = out_dir / "runs"
    runs_dir.mkdir(exist_ok=True)
    for name, run in runset.runs.items():
        filled = {q: r for q, r in run.items() if r}
        if filled:
            Run.from_dict(filled, name=name).save(str(runs_dir / f"{name}.trec"), kind="trec")
    plot_report(report, out_dir)


def report_markdown(report: dict) -> str:
    names = list(report["retrievers"])
    metrics = list(METRIC_NAMES.values())
    lines = [
        f"# ketaqa evaluation — split `{report['split']}`",
        "",
        f"{report['questions']} questions, {report['judged']} judged for retrieval.",
        "",
        "| retriever | " + " | ".join(metrics) + " |",
        "|---|" + "---|" * len(metrics),
    ]
    for name in names:
        row = report["retrievers"][name]
        lines.append(f"| {name} | " + " | ".join(f"{row[m]:.3f}" for m in metrics) + " |")
    lines += ["", "## Answers (full pipeline)", ""]
    lines += [f"- {k}: {v}" for k, v in report["answer"].items()]
    if report.get("significance"):
        lines += [
            "",
            "## Paired t-test, full vs each ablation (p-values)",
            "",
            "| vs | " + " | ".join(metrics) + " |",
            "|---|" + "---|" * len(metrics),
        ]
        for other, row in report["significance"].items():
            cells = [
                "identical" if row[m]["p_value"] is None else f"{row[m]['p_value']:.3f}"
                for m in metrics
            ]
            lines.append(f"| {other} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## By tag (full pipeline)",
        "",
        "| tag | n | hit@1 | recall@5 | mrr@10 | false abstention | abstention recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for tag, row in report["by_tag"].items():
        cells = [
            f"{row[m]:.3f}" if m in row else "–"
            for m in ("hit@1", "recall@5", "mrr@10", "false_abstention_rate", "abstention_recall")
        ]
        lines.append(f"| {tag} | {row['questions']} | " + " | ".join(cells) + " |")
    if report.get("unjudgeable"):
        lines += ["", f"Questions whose gold span no passage contains: {report['unjudgeable']}"]
    return "\n".join(lines) + "\n"


def plot_report(report: dict, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["retrievers"])
    metrics = list(METRIC_NAMES.values())
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [report["retrievers"][name][m] for m in metrics]
        ax.bar([x + i * width for x in range(len(metrics))], values, width, label=name)
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(metrics))], metrics)
    ax.set_ylim(0, 1)
    ax.set_title(f"Retrieval by retriever ({report['split']})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "metrics.png", dpi=100)
    plt.close(fig)

    tags = [t for t, row in report["by_tag"].items() if "mrr@10" in row]
    fig, ax = plt.subplots(figsize=(9, max(3, 0.3 * len(tags))))
    ax.barh(tags, [report["by_tag"][t]["mrr@10"] for t in tags])
    ax.set_xlim(0, 1)
    ax.set_xlabel("MRR@10 (full pipeline)")
    ax.set_title(f"By tag ({report['split']})")
    fig.tight_layout()
    fig.savefig(out_dir / "by_tag.png", dpi=100)
    plt.close(fig)
    plot_reliability(plt, report, out_dir)


def plot_reliability(plt, report: dict, out_dir: Path) -> None:
    """Predicted probability of "answers" against how often the statement really answers."""
    bins = report.get("verdict_reliability") or []
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.plot(
        [b["confidence"] for b in bins],
        [b["accuracy"] for b in bins],
        marker="o",
        label=f"verdict (ECE {report['answer'].get('verdict_ece', 0):.3f})",
    )
    for b in bins:
        ax.annotate(str(b["n"]), (b["confidence"], b["accuracy"]), fontsize=7)
    ax.set_xlabel("predicted probability that a passage answers")
    ax.set_ylabel("share of questions the statement answers")
    ax.set_title(f"Verdict reliability ({report['split']}; n per bin)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "reliability.png", dpi=100)
    plt.close(fig)
