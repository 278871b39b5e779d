"""Does the statement answer the question? A verdict in three levels, from a fitted model.

- `answers`: a passage answers the question;
- `related`: the statement touches every concept of the question, but no passage answers it;
- `not_covered`: the statement never mentions some of the question's concepts (named in
  `missing_concepts`, a checkable fact about the corpus) and no passage answers it.

The probability of `answers` comes from gradient-boosted trees over query-performance signals
(pre-retrieval: idf of the question's terms, concepts the statement never mentions; post-
retrieval: term coverage, closeness in meaning, score margins, normalised query commitment),
fitted on the dev split (the curated dev items and the retired fresh batches) by
`ketaqa eval --tune` and stored as plain numbers in `eval/verdict_model.json`. Answering needs
only numpy; fitting uses scikit-learn.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from ketaqa.files import write_atomic


class Verdict(StrEnum):
    ANSWERS = "answers"
    RELATED = "related"
    NOT_COVERED = "not_covered"


# The signals, in the order the model reads them. Each is computed by `Answerer.signals`.
SIGNALS = (
    "coverage_top3",  # idf-weighted share of the question's terms in the top 3 evidence passages
    "coverage_top1",  # ... in the top evidence passage alone
    "passage_closeness",  # best cosine between the question and an evidence passage
    "sentence_closeness",  # best cosine between the question and one of their sentences
    "missing_share",  # share of the question's concepts the statement never mentions
    "missing_count",
    "missing_specific",  # ... of which are rare in general English ("pregnancy", "TGA")
    "foreign_count",  # words in neither the corpus nor general English, after spelling fixes
    "max_idf",  # pre-retrieval specificity of the question's terms
    "mean_idf",
    "nqc",  # normalised query commitment: spread of the top BM25 scores over their mean
    "bm25_top",  # the top evidence passage's BM25 score per question term
    "fused_margin",  # how far the first passage leads the second, relative to the first
    "missing_salience",  # how far the question's meaning moves without its missing concepts
    "head_missing",  # the question's most specific concept is one the statement never mentions
    "head_stated_top1",  # ... is stated by the top evidence passage (it answers, not touches)
    "unrecognised_count",  # short rare tokens no shorthand rule could read
)


# Signals that count words grow with the question's length: a four-sentence case history
# names fifteen things the statement never mentions where a dev question names one or two. The
# model reads them on a log scale; its trees split only between values it was fitted on, so
# beyond what it saw it says no more than at the edge.
COUNT_SIGNALS = frozenset(
    {"missing_count", "missing_specific", "foreign_count", "unrecognised_count"}
)
INPUTS = "log-counts; gradient-boosted trees"  # how the model reads the signals
TREE_DEPTH = 2  # each tree reads at most two signals together
TREES = 300
LEARNING_RATE = 0.05
FOLDS = 5  # out-of-fold probabilities for the threshold, grouped by batch


def model_inputs(values: dict[str, float], signals: tuple[str, ...]) -> list[float]:
    """The signals as the model reads them, in its order: counts on a log scale."""
    return [math.log1p(values[s]) if s in COUNT_SIGNALS else values[s] for s in signals]


@dataclass(frozen=True)
class Tree:
    """One regression tree as flat arrays: node i splits on `feature[i]` at `threshold[i]`
    (go `left` when the input is at most the threshold); a leaf has `left` -1 and its
    `value`."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]

    def output(self, inputs: list[float]) -> float:
        node = 0
        while self.left[node] != -1:
            go_left = inputs[self.feature[node]] <= self.threshold[node]
            node = self.left[node] if go_left else self.right[node]
        return self.value[node]


@dataclass(frozen=True)
class VerdictModel:
    """Gradient-boosted trees over the signals, and the threshold chosen out of fold.

    Trees, not a line: whether a missing concept matters depends on how well the top passage
    covers the rest ("MH safe?" against "delusional disorder?"), an interaction a logistic
    regression cannot draw. Stored as plain numbers; answering needs no scikit-learn."""

    signals: tuple[str, ...]
    base: float  # the log-odds before any tree
    learning_rate: float
    trees: tuple[Tree, ...]
    threshold: float
    fitted_on: str = ""
    inputs: str = ""  # `INPUTS` when fitted; a model read another way is refitted

    def probability(self, values: dict[str, float]) -> float:
        # in float32, as scikit-learn's trees compared them when they were fitted
        inputs = np.asarray(model_inputs(values, self.signals), dtype=np.float32).tolist()
        z = self.base + self.learning_rate * sum(t.output(inputs) for t in self.trees)
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def to_json(self) -> str:
        return json.dumps(asdict(self)) + "\n"

    def save(self, path: Path) -> None:
        write_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> VerdictModel | None:
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("inputs") != INPUTS:
            return None  # fitted another way: refit with `ketaqa eval --tune`
        trees = tuple(Tree(**{k: tuple(v) for k, v in t.items()}) for t in data["trees"])
        data = {**data, "signals": tuple(data["signals"]), "trees": trees}
        model = cls(**data)
        if model.signals != SIGNALS:
            return None  # fitted on other signals: refit with `ketaqa eval --tune`
        return model


def decide(probability: float, threshold: float, missing: tuple[str, ...]) -> Verdict:
    """Answers above the threshold; below it, "not covered" only when a concept of the
    question is missing from the statement (`missing`: the concepts it never mentions).

    A question whose every concept the statement mentions is never told "not covered": at
    worst it is `related`, and its passages are shown as related. A question that names a
    listed contraindication whose passage comes first is answered whatever this says
    (`Answerer.states_contraindication`)."""
    if probability >= threshold:
        return Verdict.ANSWERS
    return Verdict.NOT_COVERED if missing else Verdict.RELATED


def verdict_sentence(
    verdict: Verdict, missing: tuple[str, ...], listed_only: tuple[str, ...] = ()
) -> str:
    """The verdict in words, for a clinician: what the statement does and does not say.

    It states facts about the corpus only; it never advises."""
    if verdict is Verdict.RELATED and listed_only:
        names = _joined(tuple(n.title() for n in listed_only))
        return (
            f"The statement lists the paper by {names} only in its bibliography; no passage "
            "reports what that paper found. Its entry and the nearest passages are shown below "
            "as related, not as an answer."
        )
    if verdict is Verdict.ANSWERS:
        return "The statement answers this. Its own words are below; the best sentence is marked."
    if verdict is Verdict.NOT_COVERED and missing:
        return (
            f"The statement does not mention {_joined(missing)}, so it does not cover this "
            "question. The nearest passages are shown below as related, not as an answer."
        )
    if missing:  # a question about one patient: its contraindications are among them
        return (
            f"The statement does not mention {_joined(missing)}. The nearest passages, "
            "including what it lists as contraindications, are shown below as related, not as "
            "an answer."
        )
    return (
        "The statement touches this topic, but no passage answers the question. The nearest "
        "passages are shown below as related, not as an answer."
    )


def unrecognised_sentence(words: tuple[str, ...]) -> str:
    """Shorthand no rule could read: said, so a clinician can rephrase it."""
    if not words:
        return ""
    return f"ketaqa did not recognise {_joined(words)}; the answer rests on the other words."


def _joined(words: tuple[str, ...]) -> str:
    quoted = [f"“{w}”" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def fit_verdict_model(
    rows: list[dict[str, float]],
    labels: list[bool],
    groups: list[str],
    fitted_on: str,
    max_false_abstention: float,
) -> VerdictModel:
    """Fit gradient-boosted trees on dev, classes weighted equally, then choose the threshold
    on out-of-fold probabilities: each group (a fresh batch, a share of the curated items) is
    scored by trees fitted without it, as a new batch will be. In-sample probabilities of
    trees are overconfident, and a threshold set on them tells new questions "no" too often."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import GroupKFold

    x = np.array([model_inputs(r, SIGNALS) for r in rows], dtype=np.float64)
    y = np.array(labels, dtype=int)

    def fitted(rows_x: np.ndarray, rows_y: np.ndarray) -> GradientBoostingClassifier:
        share = rows_y.mean()
        weights = np.where(rows_y == 1, 0.5 / share, 0.5 / (1 - share))
        return GradientBoostingClassifier(
            max_depth=TREE_DEPTH,
            n_estimators=TREES,
            learning_rate=LEARNING_RATE,
            subsample=0.8,
            random_state=0,
        ).fit(rows_x, rows_y, sample_weight=weights)

    out_of_fold = np.zeros(len(y))
    folds = GroupKFold(n_splits=min(FOLDS, len(set(groups))))
    for train, held in folds.split(x, y, groups):
        out_of_fold[held] = fitted(x[train], y[train]).predict_proba(x[held])[:, 1]
    whole = fitted(x, y)
    trees = tuple(_tree(estimator.tree_) for estimator in whole.estimators_[:, 0])
    # the log-odds before any tree, read off one row: scikit-learn keeps it private
    tree_sum = sum(t.output(x[0].astype(np.float32).tolist()) for t in trees)
    base = float(whole.decision_function(x[:1])[0]) - LEARNING_RATE * tree_sum
    threshold = choose_threshold(list(out_of_fold), labels, max_false_abstention)
    model = VerdictModel(
        signals=SIGNALS,
        base=base,
        learning_rate=LEARNING_RATE,
        trees=trees,
        threshold=threshold,
        fitted_on=fitted_on,
        inputs=INPUTS,
    )
    # the stored numbers must say what the fitted trees say, or nothing is written
    expected = whole.predict_proba(x)[:, 1]
    stored = np.array([model.probability(r) for r in rows])
    if not np.allclose(stored, expected, atol=1e-6):
        worst = float(np.abs(stored - expected).max())
        raise ValueError(f"the exported verdict trees disagree with the fitted ones by {worst}")
    return model


def _tree(tree) -> Tree:  # a fitted sklearn.tree._tree.Tree
    return Tree(
        feature=tuple(int(f) for f in tree.feature),
        threshold=tuple(float(t) for t in tree.threshold),
        left=tuple(int(c) for c in tree.children_left),
        right=tuple(int(c) for c in tree.children_right),
        value=tuple(float(v) for v in tree.value[:, 0, 0]),
    )


def choose_threshold(probs: list[float], labels: list[bool], max_false_abstention: float) -> float:
    """The highest threshold whose false-abstention rate on these items stays within bounds
    (so abstention recall is as high as that safety bound allows)."""
    answerable = [p for p, y in zip(probs, labels, strict=True) if y]
    if not answerable:
        return 0.5
    candidates = sorted(set(probs)) + [1.0]
    best = min(answerable)
    for t in candidates:
        false_abstention = sum(p < t for p in answerable) / len(answerable)
        if false_abstention <= max_false_abstention:
            best = t
    return float(best)  # unrounded: rounding up could put it above a probability it admits


def expected_calibration_error(
    probs: list[float], labels: list[bool], bins: int = 10
) -> tuple[float, list[dict]]:
    """ECE over equal-width bins, and the bins themselves for a reliability plot."""
    table = []
    total = len(probs)
    ece = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, p in enumerate(probs) if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if not idx:
            continue
        confidence = sum(probs[i] for i in idx) / len(idx)
        accuracy = sum(labels[i] for i in idx) / len(idx)
        ece += len(idx) / total * abs(confidence - accuracy)
        table.append(
            {"lo": lo, "hi": hi, "n": len(idx), "confidence": confidence, "accuracy": accuracy}
        )
    return round(ece, 4), table
