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

from ketaqa.pipeline.embedding import general_vocabulary
from ketaqa.pipeline.index import Index
from ketaqa.pipeline.passages import Passage
from ketaqa.pipeline.retrieve import Hit
from ketaqa.pipeline.tokenizer import STOPWORDS, raw_words

LEXICAL_WEIGHT_IN_HIGHLIGHT = 0.5
EVIDENCE_PASSAGES = 3  # how many top passages the confidence looks at
FOREIGN_WORD_PENALTY = 0.05
QUESTION_UNIT_PENALTY = 1.0  # effectively: never, when the passage has another unit


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
        self._unit_terms = [
            [set(index.tokenizer.tokenize(p.text[s:e])) for s, e in spans]
            for p, spans in zip(index.passages, index.unit_spans, strict=True)
        ]
        self._corpus_words = {w for p in index.passages for w in raw_words(p.text)}
        self._general_words = general_vocabulary()

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
        confidence = self.confidence(question, terms, hits, query_vector)
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
        for (start, end), sim, unit_terms in zip(
            spans, similarity, self._unit_terms[i], strict=True
        ):
            lexical = sum(self.idf(t) for t in terms if t in unit_terms) / total
            score = float(sim) + LEXICAL_WEIGHT_IN_HIGHLIGHT * lexical
            if len(spans) > 1 and text[start:end].rstrip('”"’ ').endswith("?"):
                score -= QUESTION_UNIT_PENALTY  # a quoted question is not its own answer
            if score > best_score:
                best, best_score = (start, end), score
        return best, best_score

    def foreign_terms(self, question: str) -> list[str]:
        """Words found neither in the corpus nor in the model's general English vocabulary.

        Such words (a drug, a procedure the statement never mentions) are strong evidence that
        the question is about something the corpus does not cover.
        """
        words = [w for w in raw_words(question) if w.isalpha() and len(w) > 3]
        return [
            w
            for w in words
            if w not in STOPWORDS and w not in self._corpus_words and w not in self._general_words
        ]

    def confidence(
        self, question: str, terms: list[str], hits: list[Hit], query_vector: np.ndarray
    ) -> float:
        """How well the top passages support an answer, from four signals (weights chosen on
        the dev split): the share of the question's term weight they contain, how close the
        closest passage and sentence are in meaning, and a penalty per foreign word."""
        if not hits:
            return 0.0
        top = [h.passage for h in hits[:EVIDENCE_PASSAGES]]
        coverage = self.coverage(terms, top)
        vectors = np.vstack([self.index.dense.reconstruct(i) for i in top])
        passage_closeness = max(float((vectors @ query_vector).max()), 0.0)
        sentence_closeness = max(
            max(float((self.index.units_of(i)[1] @ query_vector).max()), 0.0) for i in top
        )
        foreign = len(self.foreign_terms(question))
        score = (
            0.5 * coverage
            + 0.25 * passage_closeness
            + 0.25 * sentence_closeness
            - FOREIGN_WORD_PENALTY * foreign
        )
        return round(score, 4)
