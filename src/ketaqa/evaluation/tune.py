"""`ketaqa eval --tune`: choose fusion and priors, and fit the verdict model, on the dev split.

The choice is written to `config.TUNED_SETTINGS_FILE` and the model to
`config.VERDICT_MODEL_FILE`, which the assistant reads; the test split is never looked at here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ketaqa.config import TUNED_SETTINGS_FILE
from ketaqa.evaluation.batches import is_batch_tag
from ketaqa.evaluation.dataset import EvalItem, Judgments, build_qrels
from ketaqa.evaluation.runs import DEPTH, collect_runs, retrieval_metrics
from ketaqa.files import write_atomic
from ketaqa.pipeline.answering.assistant import Assistant
from ketaqa.pipeline.answering.verdict import VerdictModel, fit_verdict_model
from ketaqa.pipeline.search.retrieve import Method
from ketaqa.progress import Progress

ENTRY_PRIORS = (1.0, 0.9, 0.7, 0.5, 0.3)
POPULATION_BOOSTS = (1.0, 1.2, 1.4, 1.7)
CONCEPT_COVERAGES = (0.0, 0.5, 1.0, 2.0, 3.0)
ANSWER_TYPE_BOOSTS = (1.0, 1.1, 1.2, 1.3, 1.5)
STUDY_BOOSTS = (1.0, 1.1, 1.2, 1.3, 1.5)
# Telling a clinician "the statement does not answer this" when it does is the worst error the
# product can make: the verdict threshold keeps it to at most this share of dev's answerable
# questions, each scored out of fold (by trees fitted without its batch), which is how a new
# batch is scored. Out of fold is harsher than in sample: 0.10 here left 0.03 of the held-out
# batches' answerable questions told "no" (r–u, 2026-12-05).
MAX_FALSE_ABSTENTION = 0.10


def tune(assistant: Assistant, dev: list[EvalItem], progress: Progress) -> dict:
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
    qrels = build_qrels(assistant.index.passages, dev)
    ids = [i.id for i in dev]
    scored = {name: retrieval_metrics(qrels, run, ids) for name, run in runset.runs.items()}
    best = max(scored, key=lambda n: (scored[n]["mrr@10"], scored[n]["hit@1"], n))
    progress(f"best fusion on dev: {best} {scored[best]}")
    config = candidates[best]
    chosen: dict[str, object] = {"fusion": config["fusion"]}
    chosen.update({k: v for k, v in config.items() if k in ("rrf_k", "dense_weight")})
    chosen["entry_prior"] = tune_prior(
        assistant, dev, chosen, qrels, "entry_prior", ENTRY_PRIORS, progress
    )
    chosen["population_boost"] = tune_prior(
        assistant, dev, chosen, qrels, "population_boost", POPULATION_BOOSTS, progress
    )
    chosen["concept_coverage"] = tune_prior(
        assistant, dev, chosen, qrels, "concept_coverage", CONCEPT_COVERAGES, progress, neutral=0.0
    )
    chosen["answer_type_boost"] = tune_prior(
        assistant, dev, chosen, qrels, "answer_type_boost", ANSWER_TYPE_BOOSTS, progress
    )
    chosen["study_boost"] = tune_prior(
        assistant, dev, chosen, qrels, "study_boost", STUDY_BOOSTS, progress
    )
    return {"retrieval": chosen, "dev_fusion_scores": scored}


def fit_verdict(assistant: Assistant, dev: list[EvalItem], progress: Progress) -> VerdictModel:
    """Fit the verdict model on the dev split's signals, as `ask` computes them."""
    rows = [assistant.signals(item.question) for item in dev]
    model = fit_verdict_model(
        rows,
        [item.answerable for item in dev],
        fitting_groups(dev),
        f"dev ({len(dev)} questions)",
        MAX_FALSE_ABSTENTION,
    )
    progress(f"verdict model fitted on {len(dev)} dev questions; threshold {model.threshold}")
    return model


def fitting_groups(items: list[EvalItem]) -> list[str]:
    """Each item's group for out-of-fold scoring: its fresh batch, so a batch is scored by a
    model that never saw it; curated items are dealt round-robin into five groups."""
    groups = []
    for n, item in enumerate(items):
        batch = next((t for t in item.tags if is_batch_tag(t)), None)
        groups.append(batch or f"curated-{n % 5}")
    return groups


def tune_prior(
    assistant: Assistant,
    dev: list[EvalItem],
    chosen: dict,
    qrels: Judgments,
    name: str,
    values: tuple[float, ...],
    progress: Progress,
    neutral: float = 1.0,
) -> float:
    """The value of one ranking prior with the best dev MRR@10, the others as chosen; a tie
    goes to the value nearest `neutral` (the one that changes nothing)."""
    scores = {}
    for value in values:
        trial = replace(assistant.settings.retrieval, **{**chosen, name: value})
        trial_assistant = Assistant(
            replace(assistant.settings, retrieval=trial), assistant.encoder, assistant.index
        )
        run = {}
        for item in dev:
            answer = trial_assistant.ask(item.question, top_k=DEPTH)
            run[item.id] = {rp.passage.id: float(DEPTH - rp.rank + 1) for rp in answer.passages}
        scores[value] = retrieval_metrics(qrels, run, [i.id for i in dev])
    best = max(scores, key=lambda v: (scores[v]["mrr@10"], scores[v]["hit@1"], -abs(v - neutral)))
    progress(f"{name} on dev: {best} {scores[best]}")
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


def write_tuned_settings(tuned: dict, path: Path = TUNED_SETTINGS_FILE) -> Path:
    """Save what `tune` chose where `Settings.from_env` reads it."""
    write_atomic(path, json.dumps(tuned, indent=2) + "\n")
    return path
