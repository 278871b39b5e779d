"""Stage 6: from ranked hits to an `Answer`: highlights, confidence, answerable or not.

Nothing is generated: a highlight is a span of the passage's own text (a bullet or sentence),
chosen by its similarity to the question. `answerable` is false when the best evidence neither
covers the question's key terms nor is close to it in meaning; the nearest passages are still
returned, marked as not answering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .index import Index
from .passages import Passage
from .retrieve import Hit

LEXICAL_WEIGHT_IN_HIGHLIGHT = 0.5
EVIDENCE_PASSAGES = 3  # how many top passages the confidence looks at


@dataclass(frozen=True)
class RankedPassage:
    rank: int
    passage: Passage
    score: float
    highlight: tuple[int, int]  # span inside passage.text
    highlight_score: float

    @property
    def highlight_text(self) -> str:
        start, end = self.highlight
        return self.passage.text[start:end]


@dataclass(frozen=True)
class Answer:
    question: str
    answerable: bool
    confidence: float
    passages: tuple[RankedPassage, ...]


class Answerer:
    def __init__(self, index: Index, abstain_threshold: float):
        self.index = index
        self.abstain_threshold = abstain_threshold
        n = len(index.tokens)
        df: dict[str, int] = {}
        for tokens in index.tokens:
            for t in set(tokens):
                df[t] = df.get(t, 0) + 1
        self._idf = {t: math.log(1 + n / d) for t, d in df.items()}
        self._oov_idf = math.log(1 + n)  # a term the corpus never uses weighs the most
        self._token_sets = [set(t) for t in index.tokens]

    def idf(self, term: str) -> float:
        return self._idf.get(term, self._oov_idf)

    def answer(self, question: str, hits: list[Hit], query_vector: np.ndarray) -> Answer:
        terms = list(dict.fromkeys(self.index.tokenizer.tokenize(question)))
        ranked = []
        for rank, hit in enumerate(hits, start=1):
            span, score = self.highlight(hit.passage, terms, query_vector)
            ranked.append(
                RankedPassage(rank, self.index.passages[hit.passage], hit.score, span, score)
            )
        confidence = self.confidence(terms, hits, query_vector)
        return Answer(question, confidence >= self.abstain_threshold, confidence, tuple(ranked))

    def coverage(self, terms: list[str], passage_ids: list[int]) -> float:
        """Share of the question's term weight found in the given passages."""
        if not terms:
            return 0.0
        present: set[str] = set().union(*(self._token_sets[i] for i in passage_ids))
        total = sum(self.idf(t) for t in terms)
        return sum(self.idf(t) for t in terms if t in present) / total

    def highlight(
        self, i: int, terms: list[str], query_vector: np.ndarray
    ) -> tuple[tuple[int, int], float]:
        """The unit (bullet or sentence) closest to the question, in meaning and in terms."""
        spans, vectors = self.index.units_of(i)
        text = self.index.passages[i].text
        similarity = vectors @ query_vector
        total = sum(self.idf(t) for t in terms) or 1.0
        best, best_score = spans[0], -math.inf
        for (start, end), sim in zip(spans, similarity, strict=True):
            unit_terms = set(self.index.tokenizer.tokenize(text[start:end]))
            lexical = sum(self.idf(t) for t in terms if t in unit_terms) / total
            score = float(sim) + LEXICAL_WEIGHT_IN_HIGHLIGHT * lexical
            if score > best_score:
                best, best_score = (start, end), score
        return best, best_score

    def confidence(self, terms: list[str], hits: list[Hit], query_vector: np.ndarray) -> float:
        """Mean of two signals over the top passages: how much of the question's term weight
        they contain, and how close the closest one is in meaning (cosine)."""
        if not hits:
            return 0.0
        top = [h.passage for h in hits[:EVIDENCE_PASSAGES]]
        coverage = self.coverage(terms, top)
        vectors = np.vstack([self.index.dense.reconstruct(i) for i in top])
        closeness = max(float((vectors @ query_vector).max()), 0.0)
        return round(0.5 * coverage + 0.5 * closeness, 4)
