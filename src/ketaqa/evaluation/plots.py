"""The report's figures: retrievers side by side, each tag with its count, verdict reliability.

Axes are zoomed to the data (and say so), so a difference of 0.02 is visible, and every bar
carries its value; legends sit outside the bars.
"""

from __future__ import annotations

import math
from pathlib import Path

from ketaqa.evaluation.runs import METRIC_NAMES

TAG_RETRIEVAL = ("hit@1", "recall@5", "mrr@10")
TAG_VERDICT = ("false_abstention_rate", "abstention_recall")


def zoomed(values: list[float], pad: float = 0.03) -> tuple[float, float]:
    """Axis limits around the data on a 0.05 grid, never outside 0–1."""
    if not values:
        return 0.0, 1.0
    lo = max(0.0, math.floor((min(values) - pad) * 20) / 20)
    hi = min(1.0, math.ceil((max(values) + pad) * 20) / 20)
    return (lo, hi) if hi > lo else (max(0.0, lo - 0.05), min(1.0, hi + 0.05))


def scale_note(lo: float, hi: float) -> str:
    return f"axis {lo:.2f}–{hi:.2f}" + (" (zoomed: does not start at 0)" if lo > 0 else "")


def plot_report(report: dict, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_retrievers(plt, report, out_dir)
    plot_tags(plt, report, out_dir)
    plot_reliability(plt, report, out_dir)


def plot_retrievers(plt, report: dict, out_dir: Path) -> None:
    """Every retriever on every metric; the legend to the right of the axes."""
    names = list(report["retrievers"])
    metrics = list(METRIC_NAMES.values())
    values = [report["retrievers"][n][m] for n in names for m in metrics]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        scores = [report["retrievers"][name][m] for m in metrics]
        bars = ax.bar([x + i * width for x in range(len(metrics))], scores, width, label=name)
        ax.bar_label(bars, fmt="%.3f", fontsize=6, rotation=90, padding=2)
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(metrics))], metrics)
    lo, hi = zoomed(values)
    ax.set_ylim(lo, min(1.0, hi) + (hi - lo) * 0.12)
    ax.set_ylabel(f"score ({scale_note(lo, hi)})")
    ax.set_title(f"Retrieval by retriever ({report['split']}, {report['judged']} judged)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="retriever")
    fig.tight_layout()
    fig.savefig(out_dir / "metrics.png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def plot_tags(plt, report: dict, out_dir: Path) -> None:
    """Left: hit@1, recall@5 and MRR@10 per judged tag; right: false abstention and abstention
    recall per tag. Each tag's label carries its question count."""
    rows = report["by_tag"]
    judged = [t for t, r in rows.items() if all(m in r for m in TAG_RETRIEVAL)]
    verdict = [t for t, r in rows.items() if any(m in r for m in TAG_VERDICT)]
    height = max(3.5, 0.32 * max(len(judged), len(verdict), 1) * 1.6)
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, height))
    _tag_panel(left, rows, judged, TAG_RETRIEVAL, "retrieval (full pipeline)")
    _tag_panel(right, rows, verdict, TAG_VERDICT, "verdict")
    fig.suptitle(f"By tag ({report['split']}); n = questions with the tag")
    fig.tight_layout()
    fig.savefig(out_dir / "by_tag.png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def _tag_panel(ax, rows: dict, tags: list[str], metrics: tuple[str, ...], title: str) -> None:
    if not tags:
        ax.set_axis_off()
        ax.set_title(f"{title}: no tag")
        return
    width = 0.8 / len(metrics)
    values = []
    for i, metric in enumerate(metrics):
        ys = [y + i * width for y in range(len(tags))]
        xs = [rows[t].get(metric, math.nan) for t in tags]
        values += [x for x in xs if not math.isnan(x)]
        bars = ax.barh(ys, xs, width, label=metric.replace("_", " "))
        ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
    ax.set_yticks(
        [y + width * (len(metrics) - 1) / 2 for y in range(len(tags))],
        [f"{t} (n={rows[t]['questions']})" for t in tags],
        fontsize=8,
    )
    ax.invert_yaxis()
    lo, hi = zoomed(values)
    ax.set_xlim(lo, min(1.0, hi) + (hi - lo) * 0.1)
    ax.set_xlabel(scale_note(lo, hi))
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(metrics))


def plot_reliability(plt, report: dict, out_dir: Path) -> None:
    """Predicted probability of "answers" against how often the statement really answers."""
    bins = report.get("verdict_reliability") or []
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.plot(
        [b["confidence"] for b in bins],
        [b["accuracy"] for b in bins],
        marker="o",
        label=f"verdict (ECE {report['answer'].get('verdict_ece', 0):.3f})",
    )
    for b in bins:
        ax.annotate(f"n={b['n']}", (b["confidence"], b["accuracy"]), fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("predicted probability that a passage answers")
    ax.set_ylabel("share of questions the statement answers")
    ax.set_title(f"Verdict reliability ({report['split']}; n per bin)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "reliability.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
