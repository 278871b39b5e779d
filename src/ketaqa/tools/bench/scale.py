"""The scale section: synthetic corpora recombined from the real corpus' sentences, indexed and
searched as users' corpora would be (`HybridRetriever`, `dense_index`), beside plain BM25.

Encoding 100k passages on 2 cores would take an hour, so a synthetic passage's vector is the
normalised sum of its real sentences' vectors.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import faiss
import numpy as np
from rank_bm25 import BM25Okapi

from ketaqa.config import DenseIndexSettings, Settings
from ketaqa.pipeline.documents.outline import BlockKind
from ketaqa.pipeline.indexing.embedding import TextEncoder
from ketaqa.pipeline.indexing.index import Index, dense_index
from ketaqa.pipeline.search.reading import QueryAnalysis
from ketaqa.pipeline.search.retrieve import (
    DenseRetriever,
    HybridRetriever,
    LexicalRetriever,
)
from ketaqa.progress import Progress
from ketaqa.tools.bench.figures import SEED, TOP_K, Plan, Stopwatch, Timer, figure, percentiles
from ketaqa.tools.bench.milvus_scale import bench_milvus

SENTENCES_PER_PASSAGE = (2, 6)  # a synthetic passage joins this many real sentences (inclusive)


@dataclass(frozen=True)
class Synthetic:
    texts: list[str]
    tokens: list[list[str]]
    split_tokens: list[list[str]]
    vectors: np.ndarray


def synthesise(
    sentences: list[str],
    sentence_tokens: list[list[str]],
    sentence_vectors: np.ndarray,
    n: int,
    seed: int = SEED,
) -> Synthetic:
    """`n` passages, each 2-6 real sentences drawn with a fixed seed; vector = normalised sum."""
    rng = np.random.default_rng(seed)
    low, high = SENTENCES_PER_PASSAGE
    counts = rng.integers(low, high + 1, size=n)
    picks = rng.integers(0, len(sentences), size=int(counts.sum()))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    vectors = np.add.reduceat(sentence_vectors[picks], starts, axis=0).astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    split = [s.split() for s in sentences]
    texts, tokens, split_tokens = [], [], []
    for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
        chosen = picks[start : start + count].tolist()
        texts.append(" ".join(sentences[i] for i in chosen))
        tokens.append([t for i in chosen for t in sentence_tokens[i]])
        split_tokens.append([t for i in chosen for t in split[i]])
    return Synthetic(texts, tokens, split_tokens, np.ascontiguousarray(vectors))


@dataclass(frozen=True)
class Built:
    """One synthetic corpus indexed: the search paths and the baseline, with build seconds."""

    lexical: LexicalRetriever
    exact: DenseRetriever
    approximate: DenseRetriever | None  # from `approximate_from` passages up
    baseline: BM25Okapi
    seconds: dict[str, float]  # bm25, faiss, ann, baseline


def bench_scale(
    settings: Settings,
    index: Index,
    encoder: TextEncoder,
    questions: list[str],
    plan: Plan,
    progress: Progress,
) -> dict:
    dense_settings = replace(settings.dense_index, approximate_from=plan.ann_min_passages)
    sentences = [
        p.text[s:e]
        for p, spans in zip(index.passages, index.unit_spans, strict=True)
        for s, e in spans
    ]
    sentence_vectors = np.asarray(index.unit_vectors, dtype=np.float32)
    watch = Stopwatch()
    for s in sentences:
        with watch("ketaqa"):
            index.tokenizer.tokenize(s)
        with watch("split"):
            s.split()
    sentence_tokens = [index.tokenizer.tokenize(s) for s in sentences]
    query_vectors = encoder.encode(questions)  # every question, for recall@10
    out: dict = {
        "vectors": "normalised sums of the real sentences' vectors (no model encoding)",
        "tokens": "concatenated tokens of the real sentences, tokenised once (both sides)",
        "sentences": len(sentences),
        "seed": SEED,
        "ann": {
            "kind": f"IndexHNSWFlat(M={dense_settings.hnsw_m}, "
            f"efConstruction={dense_settings.ef_construction}, "
            f"efSearch={dense_settings.ef_search}), inner product",
            "min_passages": plan.ann_min_passages,
        },
        "tokenise_sentence": figure(
            percentiles(watch.times["ketaqa"])["mean"],
            percentiles(watch.times["split"])["mean"],
            "ms",
            "mean per real sentence: clinical tokenizer vs str.split",
        ),
        "sizes": [],
    }
    for n in plan.scale_sizes:
        progress(f"scale: {n} synthetic passages")
        data = synthesise(sentences, sentence_tokens, sentence_vectors, n)
        built = _build(data, index, encoder, settings, dense_settings)
        row: dict = {"passages": n}
        row.update(_build_figures(built, settings.retrieval.bm25_variant))
        row["size"] = _size_figure(data, built)
        row.update(_query_figures(built, settings, questions[: plan.scale_queries], query_vectors))
        progress(f"scale: {n} synthetic passages in Milvus")
        row["milvus"] = bench_milvus(
            settings,
            data.tokens,
            data.vectors,
            index.tokenizer,
            questions[: plan.scale_queries],
            query_vectors,
            row["query_p50"]["baseline"],
            row["build"]["value"],
        )
        if built.approximate is not None:
            row["ann_recall@10"] = _recall_figure(
                built.exact.vectors, built.approximate.vectors, query_vectors
            )
        out["sizes"].append(row)
        del data, built
    return out


def _build(
    data: Synthetic,
    index: Index,
    encoder: TextEncoder,
    settings: Settings,
    dense_settings: DenseIndexSettings,
) -> Built:
    """The lexical index, the exact dense index always, the approximate one from its threshold."""
    n = len(data.texts)
    with Timer() as t:
        lexical = LexicalRetriever(data.tokens, index.tokenizer, settings.retrieval.bm25_variant)
    seconds = {"bm25": t.seconds}
    with Timer() as t:
        exact = dense_index(data.vectors, replace(dense_settings, approximate_from=n + 1))
    seconds["faiss"] = t.seconds
    with Timer() as t:
        baseline = BM25Okapi(data.split_tokens)
    seconds["baseline"] = t.seconds
    approximate = None
    seconds["ann"] = 0.0
    if n >= dense_settings.approximate_from:
        with Timer() as t:
            approximate = dense_index(data.vectors, dense_settings)
        seconds["ann"] = t.seconds
    return Built(
        lexical,
        DenseRetriever(exact, encoder),
        DenseRetriever(approximate, encoder) if approximate is not None else None,
        baseline,
        seconds,
    )


def _build_figures(built: Built, variant: str) -> dict:
    s = built.seconds
    name = f"SparseBM25({variant})"
    ann = built.approximate is not None
    parts = f"{name} + IndexFlatIP" + (" + HNSW" if ann else "")
    row = {
        "build": figure(s["bm25"] + s["faiss"] + s["ann"], s["baseline"], "s", parts),
        "build_bm25": figure(s["bm25"], s["baseline"], "s", f"{name}, clinical tokens"),
        "build_faiss": figure(s["faiss"], s["baseline"], "s", "IndexFlatIP.add"),
    }
    if ann:
        row["build_ann"] = figure(s["ann"], s["baseline"], "s", "IndexHNSWFlat.add")
    return row


def _size_figure(data: Synthetic, built: Built) -> dict:
    """Bytes on disk of what ketaqa would save, beside the baseline's texts and split tokens."""
    with tempfile.TemporaryDirectory(prefix="ketaqa-scale-") as tmp:
        folder = Path(tmp)
        (folder / "passages.json").write_text(json.dumps(data.texts))
        (folder / "tokens.json").write_text(json.dumps(data.tokens))
        (folder / "split.json").write_text(json.dumps(data.split_tokens))
        faiss.write_index(built.exact.vectors, str(folder / "dense.faiss"))
        if built.approximate is not None:
            faiss.write_index(built.approximate.vectors, str(folder / "ann.faiss"))
        sizes = {f.name: f.stat().st_size for f in folder.iterdir()}
    ketaqa_bytes = sum(v for k, v in sizes.items() if k != "split.json")
    base_bytes = sizes["passages.json"] + sizes["split.json"]
    return figure(
        ketaqa_bytes,
        base_bytes,
        "bytes",
        "texts + tokens JSON + FAISS (+ HNSW); baseline: texts + split tokens JSON",
    )


def _query_figures(
    built: Built, settings: Settings, queries: list[str], query_vectors: np.ndarray
) -> dict:
    """Query p50 through `HybridRetriever.search` (no encoding: the vector is given).

    The lexical side is `SparseBM25`; the baseline is rank-bm25 over str.split tokens."""
    rs = settings.retrieval
    n_cand = max(TOP_K, rs.candidates)
    kinds = [BlockKind.PARAGRAPH.value] * built.lexical.size
    searchers = {
        name: HybridRetriever(built.lexical, dense, kinds, rs)
        for name, dense in (("flat", built.exact), ("ann", built.approximate))
        if dense is not None
    }
    timings = Stopwatch()
    for q, vector in zip(queries, query_vectors, strict=False):
        for name, hybrid in searchers.items():
            with timings(f"hybrid_{name}"):
                hybrid.search(QueryAnalysis.plain(q), TOP_K, query_vector=vector)
            with timings(f"dense_{name}"):
                hybrid.dense.search_vector(vector, n_cand)
        with timings("baseline"):
            scores = built.baseline.get_scores(q.split())
            np.argsort(-scores, kind="stable")[:TOP_K]
    p50 = {k: percentiles(v)["p50"] for k, v in timings.times.items()}
    row = {
        "query_p50": figure(
            p50["hybrid_flat"], p50["baseline"], "ms", "BM25 + exact dense + fusion, no encoding"
        ),
        "dense_flat_p50": figure(p50["dense_flat"], p50["baseline"], "ms", "IndexFlatIP"),
    }
    if "ann" in searchers:
        row["query_ann_p50"] = figure(
            p50["hybrid_ann"], p50["baseline"], "ms", "BM25 + HNSW dense + fusion"
        )
        row["dense_ann_p50"] = figure(p50["dense_ann"], p50["baseline"], "ms", "HNSW")
    return row


def _recall_figure(
    exact_index: faiss.Index, approximate_index: faiss.Index, query_vectors: np.ndarray
) -> dict:
    """Recall@10 of the approximate index against exact search, over every question."""
    _, exact = exact_index.search(query_vectors, 10)
    _, approx = approximate_index.search(query_vectors, 10)
    recall = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)]))
    return figure(recall, 1.0, "fraction", f"vs IndexFlatIP, {len(query_vectors)} questions")
