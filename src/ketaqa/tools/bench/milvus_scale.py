"""The scale section's Milvus row: the same synthetic passages in a Milvus collection, searched
through the same `HybridRetriever` (BM25 as sparse inner product, HNSW dense, fusion here).

With KETAQA_BACKEND=milvus the configured server is used (a throwaway collection, dropped
after); otherwise a `milvus-lite server` is started on 127.0.0.1 for the measurement.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ketaqa.config import Settings
from ketaqa.pipeline.documents.outline import BlockKind
from ketaqa.pipeline.search.backends import milvus_collection as mc
from ketaqa.pipeline.search.backends.milvus_search import (
    DENSE_FIELD,
    SPARSE_FIELD,
    MilvusConnection,
    MilvusDense,
    MilvusLexical,
    QueryWeights,
)
from ketaqa.pipeline.search.bm25 import Parameters, SparseBM25
from ketaqa.pipeline.search.reading import QueryAnalysis
from ketaqa.pipeline.search.retrieve import HybridRetriever, Tokenizer
from ketaqa.tools import milvus_lite
from ketaqa.tools.bench.figures import TOP_K, Stopwatch, Timer, figure, percentiles


def bench_milvus(
    settings: Settings,
    tokens: list[list[str]],
    vectors: np.ndarray,
    tokenizer: Tokenizer,
    queries: list[str],
    query_vectors: np.ndarray,
    baseline_p50: float,
    local_build: float,
) -> dict:
    """Build seconds and hybrid query p50 through Milvus, or why it was not measured."""
    why = milvus_lite.available()
    if why:
        return {"skipped": why}
    with tempfile.TemporaryDirectory(prefix="ketaqa-milvus-") as tmp:
        server = None
        backend = settings.backend
        if backend.kind != "milvus":
            server = milvus_lite.start_server(Path(tmp) / "data")
            backend = replace(backend, milvus_uri=server.uri)
        conn = MilvusConnection(replace(backend, timeout=max(backend.timeout, 120.0)))
        name = f"ketaqa_bench_{time.time_ns()}"
        try:
            return _measure(
                settings,
                conn,
                name,
                tokens,
                vectors,
                tokenizer,
                queries,
                query_vectors,
                baseline_p50,
                local_build,
            ) | {"server": "milvus-lite (started here)" if server else backend.milvus_uri}
        finally:
            conn.call("dropping the bench collection", lambda c: c.drop_collection(name))
            conn.close()
            if server is not None:
                server.stop()


def _measure(
    settings: Settings,
    conn: MilvusConnection,
    name: str,
    tokens: list[list[str]],
    vectors: np.ndarray,
    tokenizer: Tokenizer,
    queries: list[str],
    query_vectors: np.ndarray,
    baseline_p50: float,
    local_build: float,
) -> dict:
    bm25 = SparseBM25(tokens, Parameters(settings.retrieval.bm25_variant))
    with Timer() as t:
        dim = vectors.shape[1]
        conn.call("creating a collection", lambda c: mc.create_collection(c, name, dim, settings))
        weights = bm25.document_vectors()
        for start in range(0, len(tokens), mc.INSERT_BATCH):
            rows = [
                {
                    "id": i,
                    "kind": BlockKind.PARAGRAPH.value,
                    SPARSE_FIELD: weights[i] or {mc.META_DIM: 1e-9},
                    DENSE_FIELD: vectors[i].tolist(),
                    "record": "",
                    "units": "",
                }
                for i in range(start, min(start + mc.INSERT_BATCH, len(tokens)))
            ]
            conn.call("inserting", lambda c, r=rows: c.insert(name, r))
        conn.call("flushing", lambda c: c.flush(name))
        conn.call("loading", lambda c: c.load_collection(name))
    lexical = MilvusLexical(
        conn,
        name,
        QueryWeights(list(bm25.vocabulary), bm25.idf.tolist()),
        tokenizer,
        len(tokens),
        0,
    )
    dense = MilvusDense(conn, name, None, settings.dense_index.ef_search, 0)  # type: ignore[arg-type]
    kinds = [BlockKind.PARAGRAPH.value] * len(tokens)
    hybrid = HybridRetriever(lexical, dense, kinds, settings.retrieval)
    hybrid.search(
        QueryAnalysis.plain(queries[0]), TOP_K, query_vector=query_vectors[0]
    )  # first search loads caches
    watch = Stopwatch()
    n = max(TOP_K, settings.retrieval.candidates)
    for q, vector in zip(queries, query_vectors, strict=False):
        with watch("hybrid"):
            hybrid.search(QueryAnalysis.plain(q), TOP_K, query_vector=vector)
        with watch("lexical"):
            lexical.search(q, n)
        with watch("dense"):
            dense.search_vector(vector, n)
    p50 = percentiles(watch.times["hybrid"])["p50"]
    part = {k: percentiles(v)["p50"] for k, v in watch.times.items()}
    return {
        "build": figure(
            t.seconds, local_build, "s", "create, insert, flush, load; baseline: the local build"
        ),
        "query_p50": figure(
            p50, baseline_p50, "ms", "Milvus sparse IP BM25 + Milvus HNSW + fusion, no encoding"
        ),
        "lexical_p50": figure(part["lexical"], baseline_p50, "ms", "sparse IP search (BM25)"),
        "dense_p50": figure(part["dense"], baseline_p50, "ms", "HNSW search"),
    }
