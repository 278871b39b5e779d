"""Retrieval backends behind the one search path (`HybridRetriever`).

`local` (the default): the saved index, BM25 (`SparseBM25`) and FAISS in this process.
`milvus`: the same candidates from a Milvus collection (Lite, Standalone or Distributed), fused
and ranked by the same `HybridRetriever.search`. `open_search` returns the passages (`Index`)
and the retriever for either, so front ends do not know which one answers.
"""

from __future__ import annotations

import logging

from ketaqa.config import Settings
from ketaqa.errors import IndexStateError
from ketaqa.pipeline.indexing.embedding import Encoder, TextEncoder
from ketaqa.pipeline.indexing.index import Index, expected_fingerprint, open_index
from ketaqa.pipeline.search.retrieve import HybridRetriever
from ketaqa.progress import Progress, quiet

log = logging.getLogger(__name__)


def open_search(
    settings: Settings,
    encoder: TextEncoder,
    rebuild: bool = False,
    progress: Progress = quiet,
) -> tuple[Index, HybridRetriever]:
    """The passages and the retriever of the configured backend.

    Milvus unreachable at start: BackendError naming the URI, or with
    KETAQA_BACKEND_FALLBACK=local a warning and the local index."""
    if settings.backend.kind == "milvus":
        from ketaqa.pipeline.search.backends.milvus_search import BackendError

        try:
            return open_milvus(settings, encoder, progress)
        except BackendError as exc:
            if settings.backend.fallback != "local":
                raise
            message = f"warning: {exc}; KETAQA_BACKEND_FALLBACK=local, searching the local index"
            log.warning(message)
            progress(message)
    index = open_index(settings, encoder, rebuild=rebuild, progress=progress)
    return index, HybridRetriever.from_index(index, encoder, settings.retrieval)


def open_milvus(
    settings: Settings, encoder: TextEncoder, progress: Progress = quiet
) -> tuple[Index, HybridRetriever]:
    """Passages read from the collection, candidates searched in it; stale is an error."""
    from ketaqa.pipeline.search.backends import milvus_collection as mc
    from ketaqa.pipeline.search.backends.milvus_search import (
        MilvusConnection,
        MilvusDense,
        MilvusLexical,
        QueryWeights,
    )
    from ketaqa.pipeline.search.bm25 import Parameters

    conn = MilvusConnection(settings.backend)
    alias = settings.backend.collection
    live = mc.live_collection(conn, alias)
    if live is None:
        raise IndexStateError(
            f"missing: Milvus at {conn.uri} has no collection {alias!r}; "
            "build it with `ketaqa index --backend milvus`"
        )
    meta = mc.read_meta(conn, live)
    expected = mc.collection_fingerprint(
        expected_fingerprint(settings), Parameters(settings.retrieval.bm25_variant)
    )
    reason = mc.stale_reason(meta, expected)
    if reason:
        raise IndexStateError(
            f"stale: Milvus collection {alias!r} was built from another corpus, model or "
            f"settings ({reason}); refresh it with `ketaqa index --backend milvus`"
        )
    progress(f"reading {meta['passages']} passages from Milvus collection {alias!r}")
    index = mc.load_from_collection(conn, live, meta, settings)
    extra = len(conn.call("counting meta rows", lambda c: c.query(alias, filter="id < 0")))
    lexical = MilvusLexical(
        conn,
        alias,
        QueryWeights(meta["vocabulary"], meta["idf"]),
        index.tokenizer,
        len(index.passages),
        extra,
    )
    dense = MilvusDense(conn, alias, encoder, settings.dense_index.ef_search, extra)
    return index, HybridRetriever.over(index, lexical, dense, settings.retrieval)


def build_milvus(settings: Settings, rebuild: bool = False, progress: Progress = quiet) -> str:
    """`ketaqa index --backend milvus`: the local index (built if needed), published to Milvus."""
    from ketaqa.pipeline.search.backends import milvus_collection as mc
    from ketaqa.pipeline.search.backends.milvus_search import MilvusConnection
    from ketaqa.pipeline.search.bm25 import Parameters

    conn = MilvusConnection(settings.backend)
    try:
        index = open_index(settings, Encoder(), rebuild=rebuild, progress=progress)
        fingerprint = mc.collection_fingerprint(
            expected_fingerprint(settings), Parameters(settings.retrieval.bm25_variant)
        )
        return mc.publish(settings, index, fingerprint, conn, progress, force=rebuild)
    finally:
        conn.close()
