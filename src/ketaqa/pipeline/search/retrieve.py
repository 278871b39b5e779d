"""Lexical (BM25), dense (FAISS) and fused retrieval over an `Index`.

The lexical and dense searchers are Protocols (`LexicalSearcher`, `DenseSearcher`) that the
local index and the Milvus backend both satisfy; `HybridRetriever` composes two of them and
takes the question as read once (`QueryAnalysis`). Fusion strategies are plain functions
selected by name. Ties are broken by passage order, so rankings are deterministic.
"""

from __future__ import annotations

import re
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
from ketaqa.pipeline.search.populations import CONTRAINDICATED, passage_populations
from ketaqa.pipeline.search.question_form import DOCUMENT_KINDS, passage_answer_types
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


# Passages that name things rather than say things: bibliography entries, the citation
# headings of Section I items and Section II studies, the title, the contents.
PRIOR_KINDS = ("entry", "item", "title", "contents")
ENTRY_CAP = 0.99  # a clinical question's entries score at most this share of its best passage


def apply_entry_prior(
    kinds: Sequence[str],
    fused: dict[int, float],
    lookup: bool,
    prior: float,
    about_document: bool = False,
) -> dict[int, float]:
    """Down-weight bare bibliography entries (and the title and contents) unless the question
    looks up a publication; the title and contents are down-weighted even then.

    An entry shares its title's words with many clinical questions but answers none of them;
    the passages that report the study do. The title and contents name this document, so they
    answer no look-up of a paper either ("Which paper reviewed oral ketamine?"). A question
    about the document itself ("what page does Section II start on") is answered by its
    contents, which keep their score then; the title stays down-weighted, as its words match
    every question that names the statement ("when was the ketamine position statement first
    issued" is answered by its dates)."""
    if prior == 1.0:
        return fused
    weighted = DOCUMENT_KINDS if lookup else PRIOR_KINDS
    if about_document:
        weighted = tuple(k for k in weighted if k != "contents")
    return {i: s * prior if kinds[i] in weighted else s for i, s in fused.items()}


def entries_after_statement(
    kinds: Sequence[str], fused: dict[int, float], keep_entries: bool
) -> dict[int, float]:
    """For a clinical question, no bibliography entry outranks the best passage of the
    statement's own text: the entry's score is capped just below that passage's.

    An entry's title can share every word of a terse question ("ketamine CRPS": "Ketamine
    produces effective and long-term pain relief in patients with Complex Regional Pain
    Syndrome") and outscore, even halved by the entry prior, the passage that grades the
    evidence. The entry stays in the list as a related reference. A question that looks up a
    publication, or names a kind of one ("which rat study ..."), is left as ranked
    (`keep_entries`, from `QueryAnalysis.keeps_entries`)."""
    if keep_entries:
        return fused
    body = [s for i, s in fused.items() if kinds[i] != "entry"]
    if not body:
        return fused
    cap = max(body) * ENTRY_CAP
    return {i: min(s, cap) if kinds[i] == "entry" else s for i, s in fused.items()}


def apply_population_prior(
    passage_populations: Sequence[frozenset[str]],
    fused: dict[int, float],
    populations: Sequence[str],
    boost: float,
) -> dict[int, float]:
    """Rank passages about the population a question names ("paeds", "in the ED") first:
    an adult infusion rate is the wrong answer to a question about children.

    A listed contraindication is boosted twice (boost squared): missing it is the worst
    failure, and a case question's other details (CRPS, a wrist fracture) pull elsewhere."""
    if boost == 1.0 or not populations or not passage_populations:
        return fused
    wanted = set(populations)
    out = {}
    for i, s in fused.items():
        shared = wanted & passage_populations[i]
        factor = boost * boost if shared & CONTRAINDICATED else boost
        out[i] = s * factor if shared else s
    return out


def apply_answer_type_prior(
    carries: Sequence[frozenset[str]],
    fused: dict[int, float],
    wanted: Sequence[str],
    boost: float,
) -> dict[int, float]:
    """Rank passages that carry the kinds of answer the question wants first: for "how many
    RCTs ..." the bullet with the count, not the one that only shares the topic words; for
    "when was this document first issued" its dates. Each kind carried multiplies by `boost`."""
    if boost == 1.0 or not wanted or not carries:
        return fused
    kinds = set(wanted)
    return {i: s * boost ** len(kinds & carries[i]) for i, s in fused.items()}


# A study named in a section heading: "A-3 Bell 2018", "C-1 Noppers 2010 / Niesters 2014",
# "Kapural 2010": a capitalised surname (optionally "et al") and a four-digit year.
_STUDY_HEADING_RE = re.compile(r"\b([A-Z][A-Za-z'’-]+)(?: et al\.?)?,? ((?:19|20)\d\d)\b")
_YEAR_TYPED_RE = re.compile(r"\b(?:(19|20)(\d\d)|'?(\d\d))\b")


def studies_in_heading(parts: Sequence[str]) -> frozenset[tuple[str, str]]:
    """(surname, year) of each study a passage's section path names, lower case."""
    return frozenset(
        (name.lower(), year) for part in parts for name, year in _STUDY_HEADING_RE.findall(part)
    )


def years_typed(text: str) -> frozenset[str]:
    """The years a question names, as typed in full ("2018") or short ("bell 09", "'17")."""
    years = set()
    for century, tail, short in _YEAR_TYPED_RE.findall(text):
        if century:
            years.add(century + tail)
        else:
            years.update((f"19{short}", f"20{short}"))
    return frozenset(years)


def apply_study_prior(
    studies: Sequence[frozenset[tuple[str, str]]],
    fused: dict[int, float],
    words: frozenset[str],
    years: frozenset[str],
    boost: float,
) -> dict[int, float]:
    """Rank the passages filed under the study a question names first: its author's surname
    once, author and year twice ("bell kalso 2018 verdict": A-3 Bell 2018, not C-2 Bell 2009).

    The heading is a field of its own: in the passage's text the study's author and year are
    two words among many, and "2018" stands in half the statement's headings."""
    if boost == 1.0 or not studies or not words:
        return fused
    out = {}
    for i, s in fused.items():
        named = [year in years for name, year in studies[i] if name in words]
        out[i] = s * boost ** (1 + max(named)) if named else s
    return out


CONTRAINDICATION_RANK = 3  # where a question about one patient finds a contraindication at worst
# A passage lists a contraindication when it names a contraindicated population (its own words,
# not its section's) and advises against ketamine for it.
_ADVISES_AGAINST_RE = re.compile(
    r"\b(should not|must not|avoid(ed)?|contraindicat\w*|not be (used|undertaken|given))\b",
    re.IGNORECASE,
)


def contraindication_within_reach(
    contraindications: Sequence[int],
    fused: dict[int, float],
    about_patient: bool,
    whether_to_treat: bool = False,
) -> dict[int, float]:
    """For a question about one patient, the best-scoring passage that lists a
    contraindication is ranked no lower than third, whatever words the patient's condition
    was named in ("ice", "special K", "a VP shunt"): missing it is the worst failure, and the
    clinician reads the statement's own list. When the question asks whether ketamine may be
    given to that patient ("is he a reasonable candidate?"), the list is what answers: first."""
    rank = 1 if whether_to_treat else CONTRAINDICATION_RANK
    if not about_patient or not contraindications:
        return fused
    best = max(contraindications, key=lambda i: (fused.get(i, 0.0), -i))
    ranked = sorted((s for i, s in fused.items() if i != best), reverse=True)
    if len(ranked) < rank:
        return fused  # too few other candidates to push it below its rank
    floor = ranked[rank - 1]  # what the passage must beat to reach its rank
    if fused.get(best, 0.0) > floor:
        return fused
    return {**fused, best: floor * 1.000001}


def term_postings(tokens: Sequence[Sequence[str]]) -> dict[str, frozenset[int]]:
    """Index term -> the passages that hold it: what the coverage prior intersects."""
    postings: dict[str, set[int]] = {}
    for i, passage_tokens in enumerate(tokens):
        for term in set(passage_tokens):
            postings.setdefault(term, set()).add(i)
    return {term: frozenset(ids) for term, ids in postings.items()}


def apply_coverage_prior(
    postings: Mapping[str, frozenset[int]],
    fused: dict[int, float],
    concepts: Sequence[Sequence[frozenset[str]]],
    weight: float,
) -> dict[int, float]:
    """Rank passages that state more of the question's concepts higher: the score times
    (1 + weight x the share of concepts the passage states).

    A concept is stated when all index terms of one of its readings are in the passage
    ("dose related" read as "dose-dependent"). Without this a short passage sharing one heavy
    word ("AEs") beat the passage that says "dose-dependent adverse effects": BM25's length
    normalisation and a short text's embedding both favour it. Coordination-level matching,
    in the old IR term; the weight is chosen on dev (`ketaqa eval --tune`)."""
    if weight == 0.0 or not concepts or not postings:
        return fused
    empty: frozenset[int] = frozenset()
    stated_by = [
        frozenset().union(
            *(frozenset.intersection(*(postings.get(t, empty) for t in r)) for r in readings)
        )
        for readings in concepts
    ]
    return {
        i: s * (1.0 + weight * sum(i in ids for ids in stated_by) / len(concepts))
        for i, s in fused.items()
    }


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
            [
                i
                for i, p in enumerate(index.passages)
                if p.kind not in PRIOR_KINDS
                and passage_populations(p.text, "") & CONTRAINDICATED
                and _ADVISES_AGAINST_RE.search(p.text)
            ],
            [studies_in_heading(p.section.parts) for p in index.passages],
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
        fused = apply_answer_type_prior(
            self.carries, fused, reading.answer_types, settings.answer_type_boost
        )
        fused = entries_after_statement(self.kinds, fused, reading.keeps_entries)
        return contraindication_within_reach(
            self.contraindications, fused, reading.about_patient, reading.whether_to_treat
        )
