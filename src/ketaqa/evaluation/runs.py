"""`ketaqa eval`: score every retriever on the curated question set, with ranx.

Relevance is judged by gold spans, not passage ids: a passage is relevant to a question when it
contains one of the question's gold spans (white space folded), so judgments survive
re-chunking. The `full` run is `Assistant.ask` exactly as `ketaqa ask` runs it, so the reported
numbers are the answers users get.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ketaqa.config import REPO_ROOT, TUNED_SETTINGS_FILE, Settings
from ketaqa.errors import InputError
from ketaqa.files import write_atomic
from ketaqa.pipeline.assistant import Assistant
from ketaqa.pipeline.retrieve import Method

QUESTIONS_FILE = REPO_ROOT / "eval" / "questions.jsonl"
EXPECTED_SCORES_FILE = REPO_ROOT / "eval" / "expected_scores.json"
METRICS = ("hit_rate@1", "recall@5", "mrr@10", "ndcg@10")
METRIC_NAMES = {
    "hit_rate@1": "hit@1",
    "recall@5": "recall@5",
    "mrr@10": "mrr@10",
    "ndcg@10": "ndcg@10",
}
DEPTH = 10
ITEM_KEYS = {
    "id": str,
    "question": str,
    "gold_spans": list,
    "reference_key": (str, type(None)),
    "tags": list,
    "split": str,
    "answerable": bool,
}


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    gold_spans: tuple[str, ...]
    reference_key: str | None
    tags: tuple[str, ...]
    split: str
    answerable: bool


def load_questions(path: Path = QUESTIONS_FILE) -> list[EvalItem]:
    """Read and validate the question set; a bad line is named, nothing is half-loaded."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise InputError(f"question set not found: {path}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text") from exc
    items, seen = [], set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path.name} line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise InputError(f"{path.name} line {number}: not a JSON object")
        for key, kind in ITEM_KEYS.items():
            if not isinstance(record.get(key), kind):
                raise InputError(f"{path.name} line {number}: field {key!r} missing or wrong type")
        if record["id"] in seen:
            raise InputError(f"{path.name} line {number}: duplicate id {record['id']!r}")
        seen.add(record["id"])
        items.append(
            EvalItem(
                record["id"],
                record["question"],
                tuple(record["gold_spans"]),
                record["reference_key"],
                tuple(record["tags"]),
                record["split"],
                record["answerable"],
            )
        )
    if not items:
        raise InputError(f"{path} has no questions")
    return items


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def relevant_ids(assistant: Assistant, item: EvalItem) -> set[str]:
    spans = [_fold(s) for s in item.gold_spans]
    return {p.id for p in assistant.index.passages if any(s in _fold(p.text) for s in spans)}


# ---------------------------------------------------------------------------------------------


@dataclass
class RunSet:
    """Per retriever: question id -> {passage id: score}, best first."""

    runs: dict[str, dict[str, dict[str, float]]]
    answers: dict[str, dict]  # question id -> the `full` answer as JSON


def retrieval_configs(assistant: Assistant) -> dict[str, dict]:
    s = assistant.settings.retrieval
    return {
        "bm25": {"method": Method.BM25},
        "dense": {"method": Method.DENSE},
        "hybrid-rrf": {"method": Method.HYBRID, "fusion": "rrf", "rrf_k": s.rrf_k},
        "hybrid-weighted": {
            "method": Method.HYBRID,
            "fusion": "weighted",
            "dense_weight": s.dense_weight,
        },
    }


def collect_runs(
    assistant: Assistant,
    items: list[EvalItem],
    configs: dict[str, dict],
    with_full: bool = True,
    progress: bool = True,
) -> RunSet:
    """Each ablation ranks through the app's own `HybridRetriever.search` (without the entry
    prior, which belongs to the full pipeline); `full` is exactly what `ask` returns."""
    from tqdm import tqdm

    runs: dict[str, dict[str, dict[str, float]]] = {name: {} for name in configs}
    if with_full:
        runs["full"] = {}
    answers = {}
    passages = assistant.index.passages
    ablations = {
        name: (
            config["method"],
            replace(
                assistant.settings.retrieval,
                **{k: v for k, v in config.items() if k in ("fusion", "rrf_k", "dense_weight")},
            ),
        )
        for name, config in configs.items()
    }
    for item in tqdm(items, desc="evaluating", unit="q", disable=not progress, leave=False):
        vector = assistant.encoder.encode([item.question])[0]
        for name, (method, settings) in ablations.items():
            hits = assistant.retriever.search(
                item.question, DEPTH, method, settings, query_vector=vector, entry_prior=False
            )
            runs[name][item.id] = {passages[h.passage].id: float(h.score) for h in hits}
        if with_full:
            answer = assistant.ask(item.question, top_k=DEPTH)
            answers[item.id] = assistant.to_json(answer)
            runs["full"][item.id] = {
                p["id"]: float(DEPTH - p["rank"] + 1) for p in answers[item.id]["passages"]
            }
    return RunSet(runs, answers)


def retrieval_metrics(qrels: dict, run: dict, ids: list[str]) -> dict[str, float]:
    from ranx import Qrels, Run, evaluate

    ids = [i for i in ids if i in qrels]
    if not ids:
        return {METRIC_NAMES[m]: 0.0 for m in METRICS}
    q = Qrels.from_dict({i: qrels[i] for i in ids})
    r = Run.from_dict({i: run.get(i) or {"__none__": 0.0} for i in ids})
    scores = evaluate(q, r, list(METRICS), make_comparable=True)
    return {METRIC_NAMES[m]: round(float(scores[m]), 4) for m in METRICS}


def answer_metrics(items: list[EvalItem], answers: dict[str, dict]) -> dict[str, float]:
    answerable = [i for i in items if i.answerable]
    unanswerable = [i for i in items if not i.answerable]
    highlight_ok = citation_ok = cited = 0
    for item in answerable:
        top = answers[item.id]["passages"][0] if answers[item.id]["passages"] else None
        if top is None:
            continue
        if any(_fold(s) in _fold(top["highlight"]) for s in item.gold_spans):
            highlight_ok += 1
        if item.reference_key:
            cited += 1
            citation_ok += item.reference_key in (top.get("reference_keys") or [])
    abstained = {i.id for i in items if not answers[i.id]["answerable"]}
    true_abstain = sum(1 for i in unanswerable if i.id in abstained)
    false_abstain = sum(1 for i in answerable if i.id in abstained)
    return {
        "highlight_accuracy": round(highlight_ok / len(answerable), 4) if answerable else 0.0,
        "citation_accuracy": round(citation_ok / cited, 4) if cited else 0.0,
        "abstention_precision": round(true_abstain / len(abstained), 4) if abstained else 0.0,
        "abstention_recall": round(true_abstain / len(unanswerable), 4) if unanswerable else 0.0,
        "false_abstention_rate": round(false_abstain / len(answerable), 4) if answerable else 0.0,
        "answerable_questions": len(answerable),
        "unanswerable_questions": len(unanswerable),
    }


def evaluate_items(
    assistant: Assistant, items: list[EvalItem], split: str, progress: bool = True
) -> tuple[dict, RunSet, dict]:
    configs = retrieval_configs(assistant)
    runset = collect_runs(assistant, items, configs, progress=progress)
    qrels = {}
    unjudgeable = []
    for item in items:
        if item.answerable:
            rel = relevant_ids(assistant, item)
            if rel:
                qrels[item.id] = {pid: 1 for pid in sorted(rel)}
            else:
                unjudgeable.append(item.id)
    ids = [i.id for i in items]
    retrievers = {name: retrieval_metrics(qrels, run, ids) for name, run in runset.runs.items()}
    by_tag = {}
    for tag in sorted({t for i in items for t in i.tags}):
        tagged = [i for i in items if tag in i.tags]
        entry: dict[str, float] = {"questions": len(tagged)}
        tagged_ids = [i.id for i in tagged if i.id in qrels]
        if tagged_ids:
            entry.update(retrieval_metrics(qrels, runset.runs["full"], tagged_ids))
        if any(not i.answerable for i in tagged):
            entry["abstention_recall"] = answer_metrics(tagged, runset.answers)["abstention_recall"]
        by_tag[tag] = entry
    report = {
        "split": split,
        "questions": len(items),
        "judged": len(qrels),
        "unjudgeable": unjudgeable,
        "settings": assistant.settings.retrieval.to_dict(),
        "retrievers": retrievers,
        "answer": answer_metrics(items, runset.answers),
        "by_tag": by_tag,
    }
    return report, runset, qrels


def significance(qrels: dict, runs: dict[str, dict]) -> dict:
    """Paired t-tests (ranx compare) between `full` and every ablation."""
    from ranx import Qrels, Run, compare

    ids = sorted(qrels)
    q = Qrels.from_dict({i: qrels[i] for i in ids})
    ranx_runs = [
        Run.from_dict({i: runs[name].get(i) or {"__none__": 0.0} for i in ids}, name=name)
        for name in ["full", *[n for n in runs if n != "full"]]
    ]
    result = compare(
        q,
        runs=ranx_runs,
        metrics=list(METRICS),
        max_p=0.05,
        stat_test="student",
        make_comparable=True,
    ).to_dict()
    full = result["full"]
    return {
        other: {
            METRIC_NAMES[m]: {
                "p_value": _p(full["comparisons"][other][m]),
                "win_tie_loss": full["win_tie_loss"][other][m],
            }
            for m in METRICS
        }
        for other in full["comparisons"]
    }


def _p(value: float) -> float | None:
    """A p-value, or None where two runs are identical (the test is undefined)."""
    value = float(value)
    return None if math.isnan(value) else round(value, 4)


# ---------------------------------------------------------------------------------------------
# writing the report


def write_report(report: dict, runset: RunSet, qrels: dict, out_dir: Path) -> None:
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
        "| tag | n | hit@1 | recall@5 | mrr@10 | abstention recall |",
        "|---|---|---|---|---|---|",
    ]
    for tag, row in report["by_tag"].items():
        cells = [
            f"{row[m]:.3f}" if m in row else "–"
            for m in ("hit@1", "recall@5", "mrr@10", "abstention_recall")
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


# ---------------------------------------------------------------------------------------------
# tuning on dev


def tune(assistant: Assistant, dev: list[EvalItem], progress: Callable[[str], None]) -> dict:
    """Pick fusion and abstention settings on the dev split only."""
    candidates = {}
    for k in (5, 10, 20, 40, 60):
        candidates[f"rrf k={k}"] = {"method": Method.HYBRID, "fusion": "rrf", "rrf_k": k}
    for w in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        candidates[f"weighted w={w}"] = {
            "method": Method.HYBRID,
            "fusion": "weighted",
            "dense_weight": w,
        }
    runset = collect_runs(assistant, dev, candidates, with_full=False)
    qrels = {i.id: {p: 1 for p in relevant_ids(assistant, i)} for i in dev if i.answerable}
    qrels = {k: v for k, v in qrels.items() if v}
    ids = [i.id for i in dev]
    scored = {name: retrieval_metrics(qrels, run, ids) for name, run in runset.runs.items()}
    best = max(scored, key=lambda n: (scored[n]["mrr@10"], scored[n]["hit@1"], n))
    progress(f"best fusion on dev: {best} {scored[best]}")
    config = candidates[best]
    chosen: dict[str, object] = {"fusion": config["fusion"]}
    chosen.update({k: v for k, v in config.items() if k in ("rrf_k", "dense_weight")})
    chosen["entry_prior"] = tune_entry_prior(assistant, dev, chosen, qrels, progress)

    tuned = replace(assistant.settings, retrieval=replace(assistant.settings.retrieval, **chosen))
    tuned_assistant = Assistant(tuned, assistant.encoder, assistant.index)
    confidences = []
    for item in dev:
        answer = tuned_assistant.ask(item.question, top_k=DEPTH)
        confidences.append((answer.confidence, item.answerable))
    threshold = best_threshold(confidences)
    chosen["abstain_threshold"] = threshold
    progress(f"abstention threshold on dev: {threshold}")
    return {"retrieval": chosen, "dev_fusion_scores": scored}


def tune_entry_prior(
    assistant: Assistant,
    dev: list[EvalItem],
    chosen: dict,
    qrels: dict,
    progress: Callable[[str], None],
) -> float:
    """The bibliography-entry prior with the best dev MRR@10 for the chosen fusion."""
    scores = {}
    for prior in (1.0, 0.9, 0.8, 0.7, 0.6):
        trial = replace(assistant.settings.retrieval, **chosen, entry_prior=prior)
        trial_assistant = Assistant(
            replace(assistant.settings, retrieval=trial), assistant.encoder, assistant.index
        )
        run = {}
        for item in dev:
            answer = trial_assistant.ask(item.question, top_k=DEPTH)
            run[item.id] = {rp.passage.id: float(DEPTH - rp.rank + 1) for rp in answer.passages}
        scores[prior] = retrieval_metrics(qrels, run, [i.id for i in dev])
    best = max(scores, key=lambda p: (scores[p]["mrr@10"], scores[p]["hit@1"], p))
    progress(f"bibliography-entry prior on dev: {best} {scores[best]}")
    return best


def best_threshold(confidences: list[tuple[float, bool]]) -> float:
    """The threshold with the best balanced accuracy (abstain below it), middle of the gap."""
    values = sorted({c for c, _ in confidences})
    cuts = [values[0] - 1e-3] + [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)]
    pos = sum(1 for _, a in confidences if a) or 1
    neg = sum(1 for _, a in confidences if not a) or 1

    def balanced(t: float) -> float:
        tp = sum(1 for c, a in confidences if a and c >= t)
        tn = sum(1 for c, a in confidences if not a and c < t)
        return tp / pos + tn / neg

    return round(max(cuts, key=lambda t: (balanced(t), -t)), 4)


# ---------------------------------------------------------------------------------------------


def run_evaluation(
    assistant: Assistant,
    split: str,
    out_dir: Path,
    questions_path: Path | None = None,
    limit: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Evaluate one split (or "all"), write the report files, return the report."""
    say = progress or (lambda msg: None)
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


def cmd_eval(args: argparse.Namespace, progress: Callable[[str], None]) -> int:
    settings = Settings.from_env()
    assistant = Assistant.open_for_queries(settings, progress=progress)
    questions = args.questions or QUESTIONS_FILE
    if args.tune:
        dev = [i for i in load_questions(questions) if i.split == "dev"]
        tuned = tune(assistant, dev, progress)
        write_atomic(TUNED_SETTINGS_FILE, json.dumps(tuned, indent=2) + "\n")
        progress(f"tuned settings written to {TUNED_SETTINGS_FILE}")
        settings = Settings.from_env()
        assistant = Assistant(settings, assistant.encoder, assistant.index)
    out = args.out or REPO_ROOT / "eval" / "reports" / dt.date.today().isoformat()
    report = run_evaluation(assistant, args.split, out, questions, progress=progress)
    print(report_markdown(report))
    return 0
