"""Candidate lists from Milvus, shaped like the in-process retrievers' (`list[Scored]`).

`MilvusLexical` and `MilvusDense` stand in for `LexicalRetriever` and `DenseRetriever` inside
`HybridRetriever`, so fusion and priors rank Milvus's candidates exactly as they rank the local
ones. BM25 is a sparse inner product: the collection holds each passage's BM25 document weights
(tf saturation, length normalisation) and the query sends idf weights, both from `SparseBM25`.

Every call goes through `MilvusConnection.call`: a failure is retried once on a fresh
connection, then reported as one `BackendError` line naming the URI, never a traceback.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from ketaqa.config import BackendSettings
from ketaqa.errors import KetaqaError
from ketaqa.pipeline.indexing.embedding import TextEncoder
from ketaqa.pipeline.search.retrieve import Scored, Tokenizer

log = logging.getLogger(__name__)
T = TypeVar("T")

SPARSE_FIELD = "sparse"
DENSE_FIELD = "dense"
SCORE_DECIMALS = 5  # Milvus returns float32 scores: equal to this many decimals is a tie


class BackendError(KetaqaError):
    """The retrieval backend cannot be reached or answered wrongly."""


def milvus_client_class():
    """pymilvus's client, or a one-line error saying how to install the optional extra."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendError(
            "KETAQA_BACKEND=milvus needs pymilvus: pip install 'ketaqa[milvus]'"
        ) from exc
    # pymilvus prints a traceback on stderr for every failed RPC (its own handler); ketaqa
    # reports each failure as one line instead (BackendError, and a warning on retry)
    for name in ("pymilvus", "pymilvus.milvus_client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return MilvusClient


class MilvusConnection:
    """One pymilvus client for one URI, reconnected and retried once when a call fails."""

    def __init__(self, settings: BackendSettings):
        self.settings = settings
        self.uri = settings.milvus_uri
        self._client = None
        self.client  # connect now: an unreachable server is reported at start  # noqa: B018

    @property
    def client(self):
        if self._client is None:
            cls = milvus_client_class()
            try:
                self._client = cls(
                    uri=self.uri, token=self.settings.milvus_token, timeout=self.settings.timeout
                )
            except Exception as exc:
                raise BackendError(
                    f"cannot reach Milvus at {self.uri} ({_reason(exc)}); start the server, "
                    "fix KETAQA_MILVUS_URI, or set KETAQA_BACKEND_FALLBACK=local"
                ) from exc
        return self._client

    def call(self, what: str, fn: Callable[..., T], collection: str | None = None) -> T:
        """`fn(client)`, retried once on a new connection; BackendError if both fail.

        Before the retry `collection` is loaded again: a restarted server may come back with it
        released (Milvus Lite does; loading a loaded collection is a no-op in Milvus)."""
        try:
            return fn(self.client)
        except BackendError:
            raise
        except Exception as first:
            log.warning(
                "Milvus %s failed at %s (%s); retrying once", what, self.uri, _reason(first)
            )
            self.close()
            try:
                client = self.client
                if collection:
                    client.load_collection(collection, timeout=self.settings.timeout)
                return fn(client)
            except BackendError as exc:
                raise BackendError(f"Milvus at {self.uri} stopped answering during {what}") from exc
            except Exception as exc:
                raise BackendError(
                    f"Milvus at {self.uri} failed during {what}, twice ({_reason(exc)})"
                ) from exc

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):  # a dead connection may fail to close
                self._client.close()
            self._client = None


def _reason(exc: BaseException) -> str:
    """The first line of an exception's message, short enough for one line of UI."""
    text = str(getattr(exc, "message", "") or exc or type(exc).__name__)
    return text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__


def _hits(result: list, n: int) -> list[Scored]:
    """Milvus hits of the first query, passages only (meta rows have negative ids), ranked as
    in process: score, then passage order for ties (float32 scores, rounded)."""
    pairs = [(int(h["id"]), float(h["distance"])) for h in result[0] if int(h["id"]) >= 0]
    pairs.sort(key=lambda p: (-round(p[1], SCORE_DECIMALS), p[0]))
    return [Scored(i, s) for i, s in pairs[:n]]


class QueryWeights:
    """The query side of BM25: term ids and idf, read from the collection's meta record."""

    def __init__(self, vocabulary: Sequence[str], idf: Sequence[float]):
        self.vocabulary = {t: i for i, t in enumerate(vocabulary)}
        self.idf = list(idf)

    def weights(self, tokens: Sequence[str]) -> dict[int, float]:
        out: dict[int, float] = {}
        for token in tokens:
            t = self.vocabulary.get(token)
            if t is not None:
                out[t] = out.get(t, 0.0) + self.idf[t]
        return out


class MilvusLexical:
    """BM25 candidates as a sparse inner-product search (same interface as LexicalRetriever)."""

    def __init__(
        self,
        connection: MilvusConnection,
        collection: str,
        query: QueryWeights,
        tokenizer: Tokenizer,
        size: int,
        extra_rows: int,
    ):
        self.connection = connection
        self.collection = collection
        self.query = query
        self.tokenizer = tokenizer
        self.size = size
        self.extra_rows = extra_rows  # meta rows that may share a result list

    def search_tokens(self, query_tokens: list[str], k: int) -> list[Scored]:
        weights = {t: w for t, w in self.query.weights(query_tokens).items() if w > 0}
        if not weights:
            return []
        result = self.connection.call(
            "a BM25 search",
            lambda c: c.search(
                self.collection,
                data=[weights],
                anns_field=SPARSE_FIELD,
                limit=k + self.extra_rows,
                search_params={"metric_type": "IP"},
                timeout=self.connection.settings.timeout,
            ),
            self.collection,
        )
        return [s for s in _hits(result, k) if s.score > 0]

    def search(self, query: str, k: int) -> list[Scored]:
        return self.search_tokens(self.tokenizer.tokenize(query), k)


class MilvusDense:
    """Dense candidates from the collection's HNSW index (same interface as DenseRetriever)."""

    def __init__(
        self,
        connection: MilvusConnection,
        collection: str,
        encoder: TextEncoder,
        ef_search: int,
        extra_rows: int,
    ):
        self.connection = connection
        self.collection = collection
        self.encoder = encoder
        self.ef_search = ef_search
        self.extra_rows = extra_rows

    def search_vector(self, vector: np.ndarray, k: int) -> list[Scored]:
        data = [np.asarray(vector, dtype=np.float32).ravel().tolist()]
        result = self.connection.call(
            "a dense search",
            lambda c: c.search(
                self.collection,
                data=data,
                anns_field=DENSE_FIELD,
                limit=k + self.extra_rows,
                search_params={"metric_type": "IP", "params": {"ef": max(self.ef_search, k)}},
                timeout=self.connection.settings.timeout,
            ),
            self.collection,
        )
        return _hits(result, k)

    def search(self, query: str, k: int) -> list[Scored]:
        return self.search_vector(self.encoder.encode([query])[0], k)
