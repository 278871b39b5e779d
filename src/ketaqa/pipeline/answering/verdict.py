"""Does the statement answer the question? A verdict in three levels, from a fitted model.

- `answers`: a passage answers the question;
- `related`: the statement touches every concept of the question, but no passage answers it;
- `not_covered`: the statement never mentions some of the question's concepts (named in
  `missing_concepts`, a checkable fact about the corpus) and no passage answers it.

The probability of `answers` comes from a logistic regression over query-performance signals
(pre-retrieval: idf of the question's terms, concepts the statement never mentions; post-
retrieval: term coverage, closeness in meaning, score margins, normalised query commitment),
fitted on the dev split by `ketaqa eval --tune` and stored as plain numbers in
`eval/verdict_model.json`. Answering needs only numpy; fitting uses scikit-learn.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

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
# names fifteen things the statement never mentions where a dev question names one or two, and
# read as they stand, a linear model extrapolates that into certainty (p = 1.0 for a pregnant
# patient's vignette). The model reads them on a log scale, and every input within the range
# the dev split showed it (`VerdictModel.low`, `high`): beyond what it was fitted on it says no
# more than at the edge.
COUNT_SIGNALS = frozenset(
    {"missing_count", "missing_specific", "foreign_count", "unrecognised_count"}
)
INPUTS = "log-counts, clipped to the fitted range"  # how `model_inputs` reads the signals


def model_inputs(values: dict[str, float], signals: tuple[str, ...]) -> list[float]:
    """The signals as the model reads them, in its order: counts on a log scale."""
    return [math.log1p(values[s]) if s in COUNT_SIGNALS else values[s] for s in signals]


@dataclass(frozen=True)
class VerdictModel:
    """A standardised logistic regression and the decision threshold chosen on dev."""

    signals: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    fitted_on: str = ""
    inputs: str = ""  # `INPUTS` when fitted; a model read another way is refitted
    low: tuple[float, ...] = ()  # each input's range on the data it was fitted on
    high: tuple[float, ...] = ()

    def probability(self, values: dict[str, float]) -> float:
        z = self.intercept
        inputs = model_inputs(values, self.signals)
        for x, lo, hi, mu, sd, w in zip(
            inputs, self.low, self.high, self.mean, self.scale, self.coef, strict=True
        ):
            z += w * (min(max(x, lo), hi) - mu) / sd
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def save(self, path: Path) -> None:
        write_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> VerdictModel | None:
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        model = cls(**data)
        if model.signals != SIGNALS or model.inputs != INPUTS:
            return None  # fitted on other signals or inputs: refit with `ketaqa eval --tune`
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
    rows: list[dict[str, float]], labels: list[bool], fitted_on: str, max_false_abstention: float
) -> VerdictModel:
    """Fit on dev: standardise, logistic regression, then the threshold that abstains most
    precisely while telling at most `max_false_abstention` of answerable questions "no"."""
    import numpy as np
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.preprocessing import StandardScaler

    x = np.array([model_inputs(r, SIGNALS) for r in rows], dtype=np.float64)
    y = np.array(labels, dtype=int)
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    # regularisation chosen by 5-fold cross-validation on dev itself, never on test
    model = LogisticRegressionCV(
        Cs=[0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0],
        cv=5,
        class_weight="balanced",
        scoring="neg_log_loss",
        max_iter=5000,
        l1_ratios=(0.0,),  # plain L2, said explicitly (scikit-learn 1.10 changes the default)
        use_legacy_attributes=False,
    )
    model.fit((x - scaler.mean_) / scale, y)
    fitted = VerdictModel(
        signals=SIGNALS,
        mean=tuple(round(float(v), 6) for v in scaler.mean_),
        scale=tuple(round(float(v), 6) for v in scale),
        coef=tuple(round(float(v), 6) for v in model.coef_[0]),
        intercept=round(float(model.intercept_[0]), 6),
        threshold=0.5,
        fitted_on=fitted_on,
        inputs=INPUTS,
        low=tuple(round(float(v), 6) for v in x.min(axis=0)),
        high=tuple(round(float(v), 6) for v in x.max(axis=0)),
    )
    probs = [fitted.probability(r) for r in rows]
    threshold = choose_threshold(probs, labels, max_false_abstention)
    return VerdictModel(**{**asdict(fitted), "threshold": threshold})


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
    return round(float(best), 6)


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
