"""The report files of one evaluation: JSON, Markdown, TREC qrels and runs, figures.

`ketaqa eval` writes them under `config.REPORTS_DIR/<date>/` unless told otherwise; the app's
Evaluation tab writes them to a temporary folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from ketaqa.evaluation.batches import CHANGED, MISSING, RECORDED
from ketaqa.evaluation.dataset import Judgments
from ketaqa.evaluation.outcomes import FAILURE_KINDS
from ketaqa.evaluation.plots import plot_report
from ketaqa.evaluation.runs import METRIC_NAMES, RunSet
from ketaqa.files import write_atomic

# A fresh batch's columns: (key in the metrics, heading).
BATCH_COLUMNS = (
    ("questions", "n"),
    ("answerable", "answerable"),
    ("hit@1", "hit@1"),
    ("hit@5", "hit@5"),
    ("highlight_accuracy", "highlight"),
    ("false_abstention_rate", 'answerable told "does not answer"'),
    ("answerable_not_covered_rate", "answerable told not_covered"),
    ("abstention_recall", "unanswerable told not covered"),
)
TAG_COLUMNS = (
    "hit@1",
    "recall@5",
    "mrr@10",
    "ndcg@10",
    "false_abstention_rate",
    "abstention_recall",
)


def write_report(report: dict, runset: RunSet, qrels: Judgments, out_dir: Path) -> None:
    """report.json, report.md, qrels and runs as TREC files, and the figures."""
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


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return "–" if text is None else str(text).replace("|", "\\|").replace("\n", " ")


def report_markdown(report: dict) -> str:
    """The whole report as Markdown: header, tables, comparison, failing questions."""
    lines = [f"# ketaqa evaluation — split `{report['split']}`", ""]
    lines += header_lines(report.get("header") or {})
    lines += [
        f"{report['questions']} questions, {report['judged']} judged for retrieval.",
        "",
    ]
    if report.get("batches") is not None:
        lines += [headline(report["batches"]), ""]
    lines += retrieval_lines(report)
    lines += ["", "## Answers (full pipeline)", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report["answer"].items()]
    lines += significance_lines(report)
    if report.get("batches") is not None:
        lines += batch_lines(report["batches"])
    lines += tag_lines(report)
    if report.get("unjudgeable"):
        lines += ["", f"Questions whose gold span no passage contains: {report['unjudgeable']}"]
    if report.get("comparison"):
        lines += comparison_markdown(report["comparison"])
    if report.get("failures") is not None:
        lines += failure_lines(report["failures"])
    return "\n".join(lines) + "\n"


def header_lines(header: dict) -> list[str]:
    if not header:
        return []
    dirty = {True: " (uncommitted changes)", False: "", None: ""}[header.get("dirty")]
    settings = ", ".join(f"{k}={v}" for k, v in (header.get("settings") or {}).items())
    rows = [
        ("commit", f"`{header.get('commit') or 'unknown'}`{dirty}"),
        ("date", header.get("date")),
        ("duration", f"{header.get('duration_seconds')} s"),
        ("corpus fingerprint", f"`{header.get('corpus')}`"),
        ("index fingerprint", f"`{header.get('index')}` ({header.get('passages')} passages)"),
        ("model", header.get("model")),
        ("verdict model", f"`{header.get('verdict_model_sha256')}`"),
        ("questions", f"`{header.get('questions_file')}` (`{header.get('questions_sha256')}`)"),
        ("settings", settings),
    ]
    if header.get("limit"):
        rows.append(("limit", f"first {header['limit']} questions of the split"))
    return ["| run | |", "|---|---|", *[f"| {k} | {cell(v)} |" for k, v in rows], ""]


def retrieval_lines(report: dict) -> list[str]:
    metrics = list(METRIC_NAMES.values())
    lines = ["| retriever | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for name, row in report["retrievers"].items():
        lines.append(f"| {name} | " + " | ".join(f"{row[m]:.3f}" for m in metrics) + " |")
    return lines


def significance_lines(report: dict) -> list[str]:
    if not report.get("significance"):
        return []
    metrics = list(METRIC_NAMES.values())
    lines = [
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
    return lines


def figure(value: object) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def headline(batches: dict) -> str:
    """The generalisation figure: the newest fresh batch as first measured, before any fix."""
    tag, first = batches.get("newest"), batches.get("headline")
    if tag is None:
        return '**Generalisation:** no fresh batch yet (eval/README.md, "Fresh batches").'
    if first is None:
        return (
            f"**Generalisation:** the newest batch `{tag}` is not measured yet; "
            "`ketaqa eval --split test` records its first measurement."
        )
    m = first["metrics"]
    return (
        f"**Generalisation (newest batch, first measured):** `{tag}`, {first['date'][:10]}, "
        f"n={m['questions']}: hit@1 {figure(m['hit@1'])}, hit@5 {figure(m['hit@5'])}, "
        f'false "does not answer" {figure(m["false_abstention_rate"])}, '
        f"unanswerable told not covered {figure(m['abstention_recall'])}."
    )


def batch_lines(batches: dict) -> list[str]:
    """Each fresh batch as first measured (recorded in batches.json) and in this run."""
    lines = [
        "",
        "## Fresh batches: as first measured (before any fix) and now",
        "",
        f"First measurements: `{batches.get('record')}`. Relevant = a gold span in the passage;",
        'told "does not answer" = verdict `related` or `not_covered`.',
        "",
    ]
    if not batches["rows"]:
        return [*lines, "No question carries a batch tag yet."]
    lines += [
        "| batch | measured | " + " | ".join(cell(h) for _, h in BATCH_COLUMNS) + " |",
        "|---|---|" + "---|" * len(BATCH_COLUMNS),
    ]
    notes = []
    for row in batches["rows"]:
        first = row["first"]
        when = "not yet"
        if first:
            dirty = " (uncommitted changes)" if first.get("dirty") else ""
            when = f"first, {first['date'][:10]} `{(first.get('commit') or 'unknown')[:10]}`{dirty}"
        now = "now, in-sample (dev)" if row.get("split") == "dev" else "now"
        for label, metrics in ((when, first and first["metrics"]), (now, row["now"])):
            cells = [figure(metrics.get(k)) if metrics else "–" for k, _ in BATCH_COLUMNS]
            lines.append(f"| {row['tag']} | {label} | " + " | ".join(cells) + " |")
        if row["status"] != RECORDED or row["detail"]:
            detail = f": {row['detail']}" if row["detail"] else ""
            strong = "**" if row["status"] in (CHANGED, MISSING) else ""
            notes.append(f"- `{row['tag']}`: {strong}{row['status']}{strong}{detail}")
    return [*lines, *([""] + notes if notes else [])]


def tag_lines(report: dict) -> list[str]:
    lines = [
        "",
        "## By tag (full pipeline)",
        "",
        "| tag | n | " + " | ".join(c.replace("_", " ") for c in TAG_COLUMNS) + " |",
        "|---|---|" + "---|" * len(TAG_COLUMNS),
    ]
    for tag, row in report["by_tag"].items():
        cells = [f"{row[m]:.3f}" if m in row else "–" for m in TAG_COLUMNS]
        lines.append(f"| {tag} | {row['questions']} | " + " | ".join(cells) + " |")
    return lines


def comparison_markdown(comparison: dict) -> list[str]:
    """Regressions, every changed metric, the flips and their paired tests."""
    lines = ["", f"## Against {comparison['baseline']} (tolerance {comparison['tolerance']})", ""]
    base = comparison.get("baseline_header") or {}
    if base:
        lines += [f"Baseline: commit `{base.get('commit')}`, {base.get('date')}.", ""]
    regressed = set(comparison["regressions"])
    lines.append(
        f"**{len(regressed)} of {len(comparison['deltas'])} gated metrics regressed**"
        + (": " + ", ".join(f"`{m}`" for m in comparison["regressions"]) if regressed else ".")
    )
    changed = [r for r in comparison["deltas"] if r["delta"] != 0.0]
    if changed:
        lines += ["", "| metric | baseline | now | delta | gate |", "|---|---|---|---|---|"]
        for r in changed:
            now = "missing" if r["current"] is None else f"{r['current']:.4f}"
            delta = "–" if r["delta"] is None else f"{r['delta']:+.4f}"
            status = "**regressed**" if r["metric"] in regressed else "ok"
            lines.append(f"| {r['metric']} | {r['baseline']:.4f} | {now} | {delta} | {status} |")
    else:
        lines += ["", "No metric changed."]
    flips = comparison["flips"]
    if not flips.get("available"):
        return [*lines, "", "The baseline records no per-question outcomes: no flips."]
    for outcome, t in flips["tests"].items():
        lines.append(
            f"\n{outcome}: {t['fixed']} fixed, {t['broken']} broken of {t['n']} paired questions;"
            f" change {t['delta']:+.4f} (bootstrap 95 % CI {t['ci95'][0]:+.4f} to "
            f"{t['ci95'][1]:+.4f}); exact McNemar p = {t['mcnemar_p']}."
        )
    for side in ("broken", "fixed"):
        lines += ["", f"### {side.capitalize()} questions ({len(flips[side])})", ""]
        if flips[side]:
            lines += ["| id | on | rank | verdict | question |", "|---|---|---|---|---|"]
            lines += [
                f"| {e['id']} | {e['on']} | {e['rank']} | {e['verdict']} | {cell(e['question'])} |"
                for e in flips[side]
            ]
    return lines


def failure_lines(failures: dict[str, list[dict]]) -> list[str]:
    """Every failing question under each kind it fails."""
    total = sum(len(v) for v in failures.values())
    lines = ["", f"## Failing questions ({total} failures)", ""]
    for kind, meaning in FAILURE_KINDS.items():
        rows = failures.get(kind, [])
        lines += [f"### {kind} ({len(rows)}): {meaning}", ""]
        if not rows:
            lines += ["None.", ""]
            continue
        lines += ["| id | question | top passage | gold section |", "|---|---|---|---|"]
        for r in rows:
            top = f"*{cell(r['top_section'])}* — {cell(r['top_excerpt'])}"
            lines.append(
                f"| {r['id']} | {cell(r['question'])} | {top} | {cell(r['gold_section'])} |"
            )
        lines.append("")
    return lines
