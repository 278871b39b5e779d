"""BM25 from a sparse term-document matrix: rank-bm25's scores at a fraction of the cost.

`rank_bm25` scores every document in Python for every query term (about 500 ms a query at 100k
passages). Here each variant is split into a document weight per (document, term), which holds
the tf saturation and length normalisation, and a query weight per term, which holds the idf:

    score(d, q) = sum over query tokens t of  idf(t) * w(tf(t, d), len(d))  (+ a constant)

so a query adds up the stored columns it names. The statistics (idf
with BM25Okapi's epsilon floor, avgdl, k1, b, delta) are computed exactly as `rank_bm25` does,
and a test holds `get_scores` equal to rank-bm25's to 1e-9. The same split gives the Milvus
backend its sparse vectors (`document_vectors`, `query_vector`): their inner product is BM25.

The columns are kept as plain numpy arrays in compressed-column form (`indptr`, `rows`,
`weights`), not a scipy matrix: a query only ever slices whole columns, and importing
scipy.sparse would add about 0.2 s to every cold `ketaqa ask`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

K1 = 1.5  # rank_bm25's defaults, for every variant
B = 0.75
OKAPI_EPSILON = 0.25
DELTA = {"okapi": 0.0, "l": 0.5, "plus": 1.0}


@dataclass(frozen=True)
class Parameters:
    variant: str = "okapi"
    k1: float = K1
    b: float = B
    epsilon: float = OKAPI_EPSILON  # BM25Okapi's idf floor, as a fraction of the mean idf

    @property
    def delta(self) -> float:
        return DELTA[self.variant]


def _idf(variant: str, df: np.ndarray, n_docs: int, epsilon: float) -> np.ndarray:
    """Per-term idf exactly as rank_bm25 computes it (math.log, in its order of operations)."""
    if variant == "okapi":
        idf = np.array([math.log(n_docs - f + 0.5) - math.log(f + 0.5) for f in df.tolist()])
        if len(idf):
            # rank_bm25 sums in dict order (first occurrence), which is our term-id order
            floor = epsilon * (_python_sum(idf.tolist()) / len(idf))
            idf[idf < 0] = floor
        return idf
    if variant == "l":
        return np.array([math.log(n_docs + 1) - math.log(f + 0.5) for f in df.tolist()])
    if variant == "plus":
        return np.array([math.log((n_docs + 1) / f) for f in df.tolist()])
    raise ValueError(f"unknown BM25 variant {variant!r}; expected okapi, l or plus")


def _python_sum(values: list[float]) -> float:
    """Left-to-right float sum, as rank_bm25's loop adds (fsum would round differently)."""
    total = 0.0
    for v in values:
        total += v
    return total


class SparseBM25:
    """BM25 over tokenised documents, `get_scores`-compatible with rank_bm25's classes."""

    def __init__(self, corpus: Sequence[Sequence[str]], params: Parameters | None = None):
        self.params = params or Parameters()
        if not len(corpus):
            raise ValueError("BM25 needs at least one document")
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        lengths = np.zeros(len(corpus), dtype=np.float64)
        for d, doc in enumerate(corpus):
            lengths[d] = len(doc)
            for token in doc:
                cols.append(vocabulary.setdefault(token, len(vocabulary)))
            rows.extend([d] * len(doc))
        self.vocabulary = vocabulary
        self.corpus_size = len(corpus)
        self.doc_len = lengths
        self.avgdl = float(lengths.sum()) / self.corpus_size
        # one entry per (term, document) pair, sorted by term then document: column form
        pairs, tf = np.unique(
            np.asarray(cols, dtype=np.int64) * self.corpus_size + np.asarray(rows, dtype=np.int64),
            return_counts=True,
        )
        terms = pairs // self.corpus_size
        self.rows = pairs % self.corpus_size
        df = np.bincount(terms, minlength=len(vocabulary))
        self.indptr = np.concatenate(([0], np.cumsum(df)))
        self.idf = _idf(self.params.variant, df, self.corpus_size, self.params.epsilon)
        self.weights = self._document_weights(tf.astype(np.float64), self.rows)

    def _document_weights(self, tf: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """w(tf, dl) per stored (document, term): the part of BM25 that depends on the document."""
        p = self.params
        dl = self.doc_len[rows]
        norm = 1 - p.b + p.b * dl / self.avgdl
        if p.variant == "okapi":
            return tf * (p.k1 + 1) / (tf + p.k1 * norm)
        if p.variant == "l":
            ctd = tf / norm
            return tf * (p.k1 + 1) * (ctd + p.delta) / (p.k1 + ctd + p.delta)
        # plus: the delta part is the same for every document (see `constant`)
        return (tf * (p.k1 + 1)) / (p.k1 * norm + tf)

    def query_weights(self, query: Sequence[str]) -> dict[int, float]:
        """Term id -> idf times how often the query repeats it (rank_bm25 adds each repeat)."""
        out: dict[int, float] = {}
        for token in query:
            t = self.vocabulary.get(token)
            if t is not None:
                out[t] = out.get(t, 0.0) + float(self.idf[t])
        return out

    def constant(self, query: Sequence[str]) -> float:
        """The score every document gets regardless of its terms (only BM25Plus has one)."""
        if self.params.variant != "plus":
            return 0.0
        return self.params.delta * sum(self.query_weights(query).values())

    def get_scores(self, query: Sequence[str]) -> np.ndarray:
        scores = np.zeros(self.corpus_size)
        for term, q in self.query_weights(query).items():
            start, end = self.indptr[term], self.indptr[term + 1]
            scores[self.rows[start:end]] += q * self.weights[start:end]  # rows unique per term
        constant = self.constant(query)
        return scores + constant if constant else scores

    # -- the same split as sparse vectors, for an engine that takes inner products -----------
    def document_vectors(self) -> list[dict[int, float]]:
        """Each document's weights by term id; with `query_weights` their inner product is the
        BM25 score (plus `constant`)."""
        terms = np.repeat(np.arange(len(self.vocabulary)), np.diff(self.indptr))
        order = np.argsort(self.rows, kind="stable")  # by document, terms ascending within
        starts = np.searchsorted(self.rows[order], np.arange(self.corpus_size + 1))
        term_ids, weights = terms[order].tolist(), self.weights[order].tolist()
        return [
            dict(zip(term_ids[a:b], weights[a:b], strict=True))
            for a, b in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True)
        ]
