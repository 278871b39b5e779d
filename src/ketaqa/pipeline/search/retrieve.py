"""Lexical (BM25), dense (FAISS) and fused retrieval over an `Index`.

The lexical and dense searchers are Protocols (`LexicalSearcher`, `DenseSearcher`) that the
local index and the Milvus backend both satisfy; `HybridRetriever` composes two of them and
takes the question as read once (`QueryAnalysis`). Fusion strategies are plain functions
selected by name. Ties are broken by passage order, so rankings are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import faiss
import numpy as np
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from ketaqa.config import RetrievalSettings
from ketaqa.pipeline.indexing.embedding import TextEncoder
from ketaqa.pipeline.indexing.index import Index
from ketaqa.pipeline.indexing.tokenizer import raw_words
from ketaqa.pipeline.search.bm25 import Parameters, SparseBM25
from ketaqa.pipeline.search.populations import passage_populations
from ketaqa.pipeline.search.priors import (
    apply_answer_type_prior,
    apply_coverage_prior,
    apply_entry_prior,
    apply_footnote_prior,
    apply_population_prior,
    apply_study_prior,
    contraindication_within_reach,
    entries_after_statement,
    footnote_in_heading,
    footnotes_typed,
    lists_contraindication,
    studies_in_heading,
    term_postings,
    years_typed,
)
from ketaqa.pipeline.search.question_form import passage_answer_types
from ketaqa.pipeline.search.reading import QueryAnalysis


@dataclass(frozen=True)
class Scored:
    passage: int  # position in Index.passages
    score: float


@dataclass(frozen=True)
class Hit:
    passage: int
    score: float  # fused (or single-retriever) score, higher is better
    bm25: float | None = None  # raw BM25 score when the passage was a BM25 candidate
    dense: float | None = None  # cosine similarity when it was a dense candidate


class Method(StrEnum):
    BM25 = "bm25"
    DENSE = "dense"
    HYBRID = "hybrid"


# rank-bm25's classes: the reference `SparseBM25` is tested against (and the bench's baseline)
BM25_VARIANTS = {"okapi": BM25Okapi, "plus": BM25Plus, "l": BM25L}


def rank(scores: np.ndarray, k: int) -> list[Scored]:
    """The k best of a score array, ties broken by position so rankings are deterministic.

    argpartition first: sorting 100k scores in Python would cost more than scoring them."""
    scores = np.asarray(scores, dtype=np.float64)
    if k <= 0 or not len(scores):
        return []
    if k < len(scores):
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        pool = np.flatnonzero(scores >= kth)  # every tie at the cut-off, so ties stay by position
    else:
        pool = np.arange(len(scores))
    order = pool[np.lexsort((pool, -scores[pool]))][:k]
    return [Scored(int(i), float(scores[i])) for i in order]


class Tokenizer(Protocol):
    def tokenize(self, text: str) -> list[str]: ...


class LexicalSearcher(Protocol):
    """BM25 candidates for a text: `LexicalRetriever` here, `MilvusLexical` in Milvus."""

    def search(self, query: str, k: int) -> list[Scored]: ...


class DenseSearcher(Protocol):
    """Nearest passages to a query vector: `DenseRetriever` here, `MilvusDense` in Milvus."""

    encoder: TextEncoder

    def search_vector(self, vector: np.ndarray, k: int) -> list[Scored]: ...


class LexicalRetriever:
    """BM25 over pre-tokenised passages; it needs only their tokens and the tokenizer.

    Scores come from `SparseBM25` (rank-bm25's scores, from a sparse matrix)."""

    def __init__(self, tokens: Sequence[list[str]], tokenizer: Tokenizer, variant: str = "okapi"):
        self.tokenizer = tokenizer
        self.size = len(tokens)
        self.bm25 = SparseBM25(tokens, Parameters(variant))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        if not query_tokens:
            return np.zeros(self.size)
        return np.asarray(self.bm25.get_scores(query_tokens), dtype=np.float64)

    def search_tokens(self, query_tokens: list[str], k: int) -> list[Scored]:
        return [s for s in rank(self.scores(query_tokens), k) if s.score > 0]

    def search(self, query: str, k: int) -> list[Scored]:
        return self.search_tokens(self.tokenizer.tokenize(query), k)


class DenseRetriever:
    """Inner-product search over a FAISS index of normalised passage vectors."""

    def __init__(self, vectors: faiss.Index, encoder: TextEncoder):
        self.vectors = vectors
        self.encoder = encoder

    def search_vector(self, vector: np.ndarray, k: int) -> list[Scored]:
        k = min(k, self.vectors.ntotal)
        scores, ids = self.vectors.search(vector.reshape(1, -1), k)
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        pairs.sort(key=lambda p: (-round(p[1], 6), p[0]))
        return [Scored(i, s) for i, s in pairs]

    def search(self, query: str, k: int) -> list[Scored]:
        return self.search_vector(self.encoder.encode([query])[0], k)


# ---------------------------------------------------------------------------------------------
# fusion


def reciprocal_rank_fusion(lists: Sequence[list[Scored]], k: int = 60) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranked in lists:
        for rank, item in enumerate(ranked, start=1):
            fused[item.passage] = fused.get(item.passage, 0.0) + 1.0 / (k + rank)
    return fused


def _min_max(ranked: list[Scored]) -> dict[int, float]:
    if not ranked:
        return {}
    values = [s.score for s in ranked]
    lo, hi = min(values), max(values)
    span = hi - lo
    return {s.passage: (s.score - lo) / span if span > 0 else 1.0 for s in ranked}


def weighted_fusion(
    lexical: list[Scored], dense: list[Scored], dense_weight: float = 0.5
) -> dict[int, float]:
    """Convex combination of min-max normalised scores; a missing score counts as 0."""
    lex, den = _min_max(lexical), _min_max(dense)
    return {
        i: (1 - dense_weight) * lex.get(i, 0.0) + dense_weight * den.get(i, 0.0)
        for i in set(lex) | set(den)
    }


FUSIONS: dict[str, Callable[..., dict[int, float]]] = {
    "rrf": lambda lex, den, s: reciprocal_rank_fusion([lex, den], s.rrf_k),
    "weighted": lambda lex, den, s: weighted_fusion(lex, den, s.dense_weight),
}


def fuse(
    lex: list[Scored], den: list[Scored], method: Method, settings: RetrievalSettings
) -> dict[int, float]:
    """Scores by passage for one retrieval method: a single retriever's, or the fusion's."""
    if method is Method.BM25:
        return {s.passage: s.score for s in lex}
    if method is Method.DENSE:
        return {s.passage: s.score for s in den}
    return FUSIONS[settings.fusion](lex, den, settings)


def top_k(scores: dict[int, float], k: int) -> list[int]:
    """The k best passages, ties broken by passage order so rankings are deterministic."""
    return sorted(scores, key=lambda i: (-round(scores[i], 9), i))[:k]


class Retriever(Protocol):
    """The one search path, whichever backend holds the passages."""

    def search(
        self,
        reading: QueryAnalysis,
        k: int,
        method: Method = Method.HYBRID,
        settings: RetrievalSettings | None = None,
        query_vector: np.ndarray | None = None,
        priors: bool = True,
    ) -> list[Hit]: ...


class HybridRetriever:
    """BM25 and dense candidates, fused by the configured strategy: the one search path.

    The app, the evaluation's ablations and the benchmarks all rank through `search`; an
    ablation passes its own `settings` (and `priors=False`) instead of re-wiring the parts.
    """

    def __init__(
        self,
        lexical: LexicalSearcher,
        dense: DenseSearcher,
        kinds: Sequence[str],
        settings: RetrievalSettings,
        populations: Sequence[frozenset[str]] = (),
        postings: Mapping[str, frozenset[int]] | None = None,
        carries: Sequence[frozenset[str]] = (),
        contraindications: Sequence[int] = (),
        studies: Sequence[frozenset[tuple[str, str]]] = (),
        footnotes: Sequence[str] = (),
    ):
        self.lexical = lexical
        self.dense = dense
        self.kinds = kinds  # passage kinds, for the bibliography-entry prior
        self.settings = settings
        self.populations = populations  # the populations each passage is about
        self.postings = postings or {}  # index term -> passages, for the coverage prior
        self.carries = carries  # the kinds of answer each passage carries (figures, dates)
        self.contraindications = contraindications  # passages that list a contraindication
        self.studies = studies  # the (surname, year) of the studies each passage is filed under
        self.footnotes = footnotes  # the number of the footnote each passage is, or ""

    @classmethod
    def over(
        cls,
        index: Index,
        lexical: LexicalSearcher,
        dense: DenseSearcher,
        settings: RetrievalSettings,
    ) -> HybridRetriever:
        """Two searchers over `index`'s passages, with what the priors read of each passage
        (kind, populations, term postings): the setup both backends share."""
        return cls(
            lexical,
            dense,
            [p.kind for p in index.passages],
            settings,
            [passage_populations(p.text, str(p.section)) for p in index.passages],
            term_postings(index.tokens),
            [
                passage_answer_types(p.text, p.kind, p.section.parts[0] if p.section.parts else "")
                for p in index.passages
            ],
            [i for i, p in enumerate(index.passages) if lists_contraindication(p.text, p.kind)],
            [studies_in_heading(p.section.parts) for p in index.passages],
            [footnote_in_heading(p.section.parts) for p in index.passages],
        )

    @classmethod
    def from_index(
        cls, index: Index, encoder: TextEncoder, settings: RetrievalSettings
    ) -> HybridRetriever:
        """The local backend: BM25 and FAISS in this process."""
        return cls.over(
            index,
            LexicalRetriever(index.tokens, index.tokenizer, settings.bm25_variant),
            DenseRetriever(index.dense, encoder),
            settings,
        )

    def search(
        self,
        reading: QueryAnalysis,
        k: int,
        method: Method = Method.HYBRID,
        settings: RetrievalSettings | None = None,
        query_vector: np.ndarray | None = None,
        priors: bool = True,  # the priors of `apply_priors` (off: plain fusion)
    ) -> list[Hit]:
        settings = settings or self.settings
        n = max(k, settings.candidates)
        query = reading.search_text
        lex: list[Scored] = []
        den: list[Scored] = []
        if method in (Method.BM25, Method.HYBRID):
            lex = self.lexical.search(reading.lexical_text, n)
        if method in (Method.DENSE, Method.HYBRID):
            vector = (
                query_vector if query_vector is not None else self.dense.encoder.encode([query])[0]
            )
            den = self.dense.search_vector(vector, n)
        fused = fuse(lex, den, method, settings)
        if method is Method.HYBRID and priors:
            fused = self.apply_priors(fused, reading, settings)
        lex_scores = {s.passage: s.score for s in lex}
        den_scores = {s.passage: s.score for s in den}
        return [Hit(i, fused[i], lex_scores.get(i), den_scores.get(i)) for i in top_k(fused, k)]

    def apply_priors(
        self, fused: dict[int, float], reading: QueryAnalysis, settings: RetrievalSettings
    ) -> dict[int, float]:
        """The priors on fused scores, in order: entries, populations, concept coverage, the
        study named, the kind of answer, no entry above the statement for a clinical question,
        and a listed contraindication within reach of a question about one patient (`search`
        and the bench's stage timing share this)."""
        fused = apply_entry_prior(
            self.kinds,
            fused,
            reading.lookup,
            settings.entry_prior,
            reading.about_document,
        )
        fused = apply_population_prior(
            self.populations,
            fused,
            reading.populations + reading.meant_populations,
            settings.population_boost,
        )
        fused = apply_coverage_prior(
            self.postings, fused, reading.concept_terms, settings.concept_coverage
        )
        fused = apply_study_prior(
            self.studies,
            fused,
            frozenset(raw_words(reading.search_text)),
            years_typed(reading.question),
            settings.study_boost,
        )
        fused = apply_footnote_prior(
            self.footnotes, fused, footnotes_typed(reading.question), settings.study_boost
        )
        fused = apply_answer_type_prior(
            self.carries, fused, reading.answer_types, settings.answer_type_boost
        )
        fused = entries_after_statement(self.kinds, fused, reading.keeps_entries)
        return contraindication_within_reach(
            self.contraindications, fused, reading.about_patient, reading.whether_to_treat
        )
