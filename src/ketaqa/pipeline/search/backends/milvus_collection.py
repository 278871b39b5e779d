"""The Milvus collection: built from the local index, swapped in atomically, read back whole.

One collection holds everything a Milvus-backed app needs besides the model:

    id >= 0   one row per passage: BM25 document weights (sparse, inner product), the passage
              vector (dense, HNSW), and beside them the passage record (text, section, pages,
              citation keys, source, tokens, highlight spans) and its sentence vectors
    id < 0    meta rows: the fingerprint, BM25 vocabulary and idf, references, tokenizer
              abbreviations, in JSON chunks

Builds go to a new physical collection; the alias named by `KETAQA_MILVUS_COLLECTION` is then
pointed at it and the old one dropped, so a killed build leaves the previous collection live.
A build whose fingerprint matches the live one is skipped (idempotent).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict
from pathlib import Path

import faiss
import numpy as np

from ketaqa.config import Settings
from ketaqa.errors import IndexStateError
from ketaqa.pipeline.documents.corpus import Reference
from ketaqa.pipeline.indexing.index import Fingerprint, Index, passage_from_dict, passage_to_dict
from ketaqa.pipeline.indexing.tokenizer import ClinicalTokenizer
from ketaqa.pipeline.search.backends.milvus_search import (
    DENSE_FIELD,
    SPARSE_FIELD,
    BackendError,
    MilvusConnection,
)
from ketaqa.pipeline.search.bm25 import Parameters, SparseBM25
from ketaqa.progress import Progress, quiet

BACKEND_FORMAT = 1
VARCHAR_MAX = 65535
META_CHUNK = 60000  # characters of ASCII JSON per meta row
META_DIM = 2**32 - 2  # the meta rows' only sparse dimension; no query term ever maps to it
INSERT_BATCH = 1000


def collection_fingerprint(fingerprint: Fingerprint, params: Parameters) -> dict:
    """What makes a collection stale: the local index's fingerprint plus the BM25 split."""
    return {**asdict(fingerprint), "backend_format": BACKEND_FORMAT, **asdict(params)}


def live_collection(conn: MilvusConnection, alias: str) -> str | None:
    """The physical collection the alias points at, or None when there is none yet."""

    def describe(client) -> str | None:
        if alias not in client.list_aliases().get("aliases", []):  # every alias in the database
            return None
        return client.describe_alias(alias)["collection_name"]

    return conn.call("an alias lookup", describe)


def read_meta(conn: MilvusConnection, collection: str) -> dict:
    """The collection's meta record, reassembled from its chunks."""
    rows = conn.call(
        "reading the collection's metadata",
        lambda c: c.query(collection, filter="id < 0", output_fields=["id", "record"]),
    )
    if not rows:
        raise IndexStateError(f"damaged: Milvus collection {collection!r} has no metadata rows")
    chunks = sorted(rows, key=lambda r: -int(r["id"]))  # -1, -2, ...
    try:
        return json.loads("".join(r["record"] for r in chunks))
    except ValueError as exc:
        raise IndexStateError(
            f"damaged: Milvus collection {collection!r} metadata ({exc})"
        ) from exc


def stale_reason(meta: dict, expected: dict) -> str | None:
    """None when the collection was built from this corpus, model and settings."""
    have = meta.get("fingerprint", {})
    changed = sorted(k for k in expected if have.get(k) != expected[k])
    return ", ".join(f"{k} changed" for k in changed) or None


def publish(
    settings: Settings,
    index: Index,
    fingerprint: dict,
    conn: MilvusConnection,
    progress: Progress = quiet,
    force: bool = False,
) -> str:
    """Make the alias serve this index; returns "up to date" or the new collection's name."""
    alias = settings.backend.collection
    live = live_collection(conn, alias)
    if live and not force:
        meta = read_meta(conn, live)
        if stale_reason(meta, fingerprint) is None and meta.get("passages") == len(index.passages):
            progress(f"Milvus collection {alias!r} is up to date ({live})")
            return "up to date"
    name = f"{alias}_{time.strftime('%Y%m%dT%H%M%S')}_{time.time_ns() % 1_000_000:06d}"
    progress(f"building Milvus collection {name} at {conn.uri}")
    params = Parameters(settings.retrieval.bm25_variant)
    if params.variant == "plus":
        raise BackendError("the Milvus backend scores BM25 okapi or l; BM25Plus adds a constant")
    bm25 = SparseBM25(index.tokens, params)
    dim = index.dense.d
    conn.call("creating a collection", lambda c: create_collection(c, name, dim, settings))
    _insert_passages(conn, name, index, bm25, progress)
    meta = {
        "fingerprint": fingerprint,
        "passages": len(index.passages),
        "dim": dim,
        "vocabulary": list(bm25.vocabulary),
        "idf": bm25.idf.tolist(),
        "abbreviations": index.tokenizer.abbreviations,
        "references": index.manifest.get("references", []),
        "documents": index.manifest.get("documents", {}),
        "settings": index.manifest.get("settings", {}),
    }
    _insert_meta(conn, name, meta)
    conn.call("flushing", lambda c: c.flush(name))
    conn.call("loading the collection", lambda c: c.load_collection(name))
    if live:
        conn.call("swapping the alias", lambda c: c.alter_alias(name, alias))
        conn.call("dropping the old collection", lambda c: c.drop_collection(live))
    else:
        conn.call("creating the alias", lambda c: c.create_alias(name, alias))
    progress(f"Milvus alias {alias!r} now serves {name} ({len(index.passages)} passages)")
    return name


def create_collection(client, name: str, dim: int, settings: Settings) -> None:
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("kind", DataType.VARCHAR, max_length=32)
    schema.add_field(SPARSE_FIELD, DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field(DENSE_FIELD, DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("record", DataType.VARCHAR, max_length=VARCHAR_MAX)
    schema.add_field("units", DataType.VARCHAR, max_length=VARCHAR_MAX)
    hnsw = settings.dense_index
    params = client.prepare_index_params()
    params.add_index(SPARSE_FIELD, index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    params.add_index(
        DENSE_FIELD,
        index_type="HNSW",
        metric_type="IP",
        params={"M": hnsw.hnsw_m, "efConstruction": hnsw.ef_construction},
    )
    client.create_collection(name, schema=schema, index_params=params)


def _insert_passages(
    conn: MilvusConnection, name: str, index: Index, bm25: SparseBM25, progress: Progress
) -> None:
    vectors = index.dense.reconstruct_n(0, index.dense.ntotal)
    weights = bm25.document_vectors()
    rows = []
    for i, passage in enumerate(index.passages):
        spans, unit_vectors = index.units_of(i)
        record = {
            "passage": passage_to_dict(passage),
            "tokens": index.tokens[i],
            "units": [list(s) for s in spans],
        }
        rows.append(
            {
                "id": i,
                "kind": passage.kind,
                SPARSE_FIELD: weights[i] or {META_DIM: 1e-9},  # an empty passage never matches
                DENSE_FIELD: vectors[i].tolist(),
                "record": _fit(json.dumps(record, ensure_ascii=True), passage.id),
                "units": _fit(_b64(unit_vectors), passage.id),
            }
        )
        if len(rows) == INSERT_BATCH or i == len(index.passages) - 1:
            batch = rows
            conn.call("inserting passages", lambda c, b=batch: c.insert(name, b))
            rows = []
            progress(f"{i + 1}/{len(index.passages)} passages sent to Milvus")


def _insert_meta(conn: MilvusConnection, name: str, meta: dict) -> None:
    text = json.dumps(meta, ensure_ascii=True)
    dim = meta["dim"]
    rows = [
        {
            "id": -1 - n,
            "kind": "meta",
            SPARSE_FIELD: {META_DIM: 1.0},
            DENSE_FIELD: [0.0] * dim,
            "record": text[start : start + META_CHUNK],
            "units": "",
        }
        for n, start in enumerate(range(0, len(text), META_CHUNK))
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        batch = rows[start : start + INSERT_BATCH]
        conn.call("inserting metadata", lambda c, b=batch: c.insert(name, b))


def _fit(text: str, passage_id: str) -> str:
    if len(text) > VARCHAR_MAX:
        raise BackendError(
            f"passage {passage_id} is too large for one Milvus row ({len(text)} characters)"
        )
    return text


def _b64(vectors: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vectors, dtype=np.float32).tobytes()).decode()


def load_from_collection(
    conn: MilvusConnection, collection: str, meta: dict, settings: Settings
) -> Index:
    """The passages, tokens, vectors and references an app needs, read from the collection."""
    rows: list[dict] = []

    def read_all(client) -> None:
        rows.clear()
        iterator = client.query_iterator(
            collection,
            batch_size=1000,
            filter="id >= 0",
            output_fields=["id", "record", "units", DENSE_FIELD],
        )
        while batch := iterator.next():
            rows.extend(batch)
        iterator.close()

    conn.call("reading the passages", read_all)
    rows.sort(key=lambda r: int(r["id"]))
    if [int(r["id"]) for r in rows] != list(range(meta["passages"])):
        raise IndexStateError(
            f"damaged: Milvus collection {collection!r} holds {len(rows)} passage rows, "
            f"its metadata says {meta['passages']}"
        )
    records = [json.loads(r["record"]) for r in rows]
    dim = meta["dim"]
    dense = faiss.IndexFlatIP(dim)
    dense.add(np.asarray([r[DENSE_FIELD] for r in rows], dtype=np.float32).reshape(-1, dim))
    unit_spans = [[tuple(s) for s in rec["units"]] for rec in records]
    unit_blocks = [
        np.frombuffer(base64.b64decode(r["units"]), dtype=np.float32).reshape(-1, dim) for r in rows
    ]
    offsets = np.cumsum([0] + [len(b) for b in unit_blocks[:-1]]).tolist()
    references = {}
    for record in meta.get("references", []):
        record = {**record, "cited_in": tuple(record.get("cited_in") or ())}
        references[record["key"]] = Reference(**record)
    return Index(
        passages=[passage_from_dict(rec["passage"]) for rec in records],
        references=references,
        tokenizer=ClinicalTokenizer(meta["abbreviations"]),
        tokens=[rec["tokens"] for rec in records],
        dense=dense,
        unit_spans=unit_spans,
        unit_vectors=np.vstack(unit_blocks) if unit_blocks else np.zeros((0, dim), np.float32),
        unit_offsets=offsets,
        manifest={
            "fingerprint": meta["fingerprint"],
            "references": meta.get("references", []),
            "documents": meta.get("documents", {}),
            "settings": meta.get("settings", {}),
            "passages": meta["passages"],
            "backend": {"kind": "milvus", "uri": conn.uri, "collection": collection},
        },
        path=Path(settings.index_dir),
    )
