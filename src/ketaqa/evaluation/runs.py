"""Runs and scores: every retriever ranks the question set, ranx scores the runs.

The ablations rank through the app's own `HybridRetriever.search`; the `full` run is
`Assistant.ask` exactly as `ketaqa ask` runs it, so the reported numbers are the answers users
get.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ketaqa.evaluation.dataset import EvalItem, Judgments, build_qrels, fold
from ketaqa.pipeline.answering.assistant import Assistant
from ketaqa.pipeline.answering.verdict import expected_calibration_error
from ketaqa.pipeline.search.reading import QueryAnalysis
from ketaqa.pipeline.search.retrieve import Method

METRICS = ("hit_rate@1", "recall@5", "mrr@10", "ndcg@10")
METRIC_NAMES = {
    "hit_rate@1": "hit@1",
    "recall@5": "recall@5",
    "mrr@10": "mrr@10",
    "ndcg@10": "ndcg@10",
}
# The fresh batches are judged by the share of questions with a relevant passage at rank 1 and
# in the top 5 (recall@5 counts every relevant passage, and a span may occur in several).
HIT_NAMES = {"hit_rate@1": "hit@1", "hit_rate@5": "hit@5"}
DEPTH = 10


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
        plain = QueryAnalysis.plain(item.question)  # the ablations search the words as typed
        for name, (method, settings) in ablations.items():
            hits = assistant.retriever.search(
                plain, DEPTH, method, settings, query_vector=vector, priors=False
            )
            runs[name][item.id] = {passages[h.passage].id: float(h.score) for h in hits}
        if with_full:
            answer = assistant.ask(item.question, top_k=DEPTH)
            answers[item.id] = answer.to_json()
            runs["full"][item.id] = {
                p["id"]: float(DEPTH - p["rank"] + 1) for p in answers[item.id]["passages"]
            }
    return RunSet(runs, answers)


def retrieval_metrics(
    qrels: Judgments, run: dict, ids: list[str], names: dict[str, str] = METRIC_NAMES
) -> dict[str, float]:
    """ranx's metrics (keys of `names`) over the judged questions among `ids`, renamed."""
    from ranx import Qrels, Run, evaluate

    ids = [i for i in ids if i in qrels]
    if not ids:
        return {name: 0.0 for name in names.values()}
    q = Qrels.from_dict({i: qrels[i] for i in ids})
    r = Run.from_dict({i: run.get(i) or {"__none__": 0.0} for i in ids})
    scores = evaluate(q, r, list(names), make_comparable=True)
    if len(names) == 1:  # ranx returns a bare number for a single metric
        scores = {next(iter(names)): scores}
    return {name: round(float(scores[m]), 4) for m, name in names.items()}


def answer_metrics(items: list[EvalItem], answers: dict[str, dict]) -> dict[str, float]:
    answerable = [i for i in items if i.answerable]
    unanswerable = [i for i in items if not i.answerable]
    highlight_ok = citation_ok = cited = 0
    for item in answerable:
        top = answers[item.id]["passages"][0] if answers[item.id]["passages"] else None
        if top is None:
            continue
        if any(fold(s) in fold(top["highlight"]) for s in item.gold_spans):
            highlight_ok += 1
        if item.reference_key:
            cited += 1
            citation_ok += item.reference_key in (top.get("reference_keys") or [])
    abstained = {i.id for i in items if not answers[i.id]["answerable"]}
    true_abstain = sum(1 for i in unanswerable if i.id in abstained)
    false_abstain = sum(1 for i in answerable if i.id in abstained)
    not_covered = sum(1 for i in answerable if answers[i.id]["verdict"] == "not_covered")
    near_misses = [i for i in unanswerable if "near-miss" in i.tags]
    near_miss_answered = sum(1 for i in near_misses if i.id not in abstained)
    ece, _ = expected_calibration_error(
        [answers[i.id]["confidence"] for i in items], [i.answerable for i in items]
    )
    return {
        "highlight_accuracy": round(highlight_ok / len(answerable), 4) if answerable else 0.0,
        "citation_accuracy": round(citation_ok / cited, 4) if cited else 0.0,
        "abstention_precision": round(true_abstain / len(abstained), 4) if abstained else 0.0,
        "abstention_recall": round(true_abstain / len(unanswerable), 4) if unanswerable else 0.0,
        "false_abstention_rate": round(false_abstain / len(answerable), 4) if answerable else 0.0,
        "answerable_not_covered_rate": _share(not_covered, len(answerable)),
        "near_miss_answered_rate": _share(near_miss_answered, len(near_misses)),
        "verdict_ece": ece,
        "answerable_questions": len(answerable),
        "unanswerable_questions": len(unanswerable),
    }


def fresh_metrics(items: list[EvalItem], runset: RunSet, qrels: Judgments) -> dict:
    """The figures a fresh batch is judged by, from the same code as the report's tables;
    None where a batch has no question to measure it on (no answerable, or no unanswerable)."""
    answers = answer_metrics(items, runset.answers)
    judged = [i.id for i in items if i.id in qrels]
    hits = retrieval_metrics(qrels, runset.runs["full"], judged, HIT_NAMES) if judged else {}
    answerable = answers["answerable_questions"]
    unanswerable = answers["unanswerable_questions"]
    return {
        "questions": len(items),
        "answerable": answerable,
        "judged": len(judged),
        "hit@1": hits.get("hit@1"),
        "hit@5": hits.get("hit@5"),
        "highlight_accuracy": answers["highlight_accuracy"] if answerable else None,
        "false_abstention_rate": answers["false_abstention_rate"] if answerable else None,
        "answerable_not_covered_rate": (
            answers["answerable_not_covered_rate"] if answerable else None
        ),
        "abstention_recall": answers["abstention_recall"] if unanswerable else None,
    }


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def evaluate_items(
    assistant: Assistant, items: list[EvalItem], split: str, progress: bool = True
) -> tuple[dict, RunSet, Judgments]:
    configs = retrieval_configs(assistant)
    runset = collect_runs(assistant, items, configs, progress=progress)
    qrels = build_qrels(assistant.index.passages, items)
    unjudgeable = [i.id for i in items if i.answerable and i.id not in qrels]
    ids = [i.id for i in items]
    retrievers = {name: retrieval_metrics(qrels, run, ids) for name, run in runset.runs.items()}
    by_tag = {}
    for tag in sorted({t for i in items for t in i.tags}):
        tagged = [i for i in items if tag in i.tags]
        entry: dict[str, float] = {"questions": len(tagged)}
        tagged_ids = [i.id for i in tagged if i.id in qrels]
        if tagged_ids:
            entry.update(retrieval_metrics(qrels, runset.runs["full"], tagged_ids))
        verdicts = answer_metrics(tagged, runset.answers)
        if any(i.answerable for i in tagged):
            entry["false_abstention_rate"] = verdicts["false_abstention_rate"]
        if any(not i.answerable for i in tagged):
            entry["abstention_recall"] = verdicts["abstention_recall"]
        by_tag[tag] = entry
    report = {
        "split": split,
        "questions": len(items),
        "judged": len(qrels),
        "unjudgeable": unjudgeable,
        "settings": assistant.settings.retrieval.to_dict(),
        "retrievers": retrievers,
        "answer": answer_metrics(items, runset.answers),
        "verdict_reliability": expected_calibration_error(
            [runset.answers[i.id]["confidence"] for i in items], [i.answerable for i in items]
        )[1],
        "by_tag": by_tag,
    }
    return report, runset, qrels


def significance(qrels: Judgments, runs: dict[str, dict]) -> dict:
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
