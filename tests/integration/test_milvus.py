"""The Milvus backend against a real `milvus-lite server` on 127.0.0.1 (one per session): the
collection is built from the session index, searched through `HybridRetriever`, and the whole
curated evaluation run through it is held within 0.01 of in-process on the test split."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ketaqa.errors import IndexStateError
from ketaqa.pipeline.search.reading import QueryAnalysis
from ketaqa.tools import milvus_lite

pytestmark = pytest.mark.slow

if milvus_lite.available():
    pytest.skip(milvus_lite.available(), allow_module_level=True)

QUESTIONS = [
    "What are the contraindications to ketamine infusions?",
    "oral ketamine dose",
    "psychotomimetic adverse effects",
    "Visser and Schug 2006",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = milvus_lite.start_server(tmp_path_factory.mktemp("milvus") / "data")
    yield srv
    srv.stop()


def with_milvus(settings, server, collection="ketaqa"):
    backend = replace(settings.backend, kind="milvus", milvus_uri=server.uri, collection=collection)
    return replace(settings, backend=backend)


@pytest.fixture(scope="module")
def milvus_settings(settings, server, assistant):  # `assistant` builds the session index first
    from ketaqa.pipeline.search.backends import build_milvus

    s = with_milvus(settings, server)
    assert build_milvus(s).startswith("ketaqa_")
    return s


@pytest.fixture(scope="module")
def milvus_assistant(milvus_settings, encoder):
    from ketaqa.pipeline.answering.assistant import Assistant

    return Assistant.open(milvus_settings, encoder)


def test_build_is_idempotent(milvus_settings):
    from ketaqa.pipeline.search.backends import build_milvus

    assert build_milvus(milvus_settings) == "up to date"


def test_app_needs_only_the_collection(milvus_assistant, assistant):
    """Passages, references, tokens and sentence vectors all come back from Milvus."""
    ours, theirs = milvus_assistant.index, assistant.index
    assert [p.id for p in ours.passages] == [p.id for p in theirs.passages]
    assert ours.passages == theirs.passages
    assert ours.tokens == theirs.tokens and ours.unit_spans == theirs.unit_spans
    assert ours.references == theirs.references
    assert (ours.unit_vectors == theirs.unit_vectors).all()
    assert milvus_assistant.index.manifest["backend"]["kind"] == "milvus"


def test_candidates_equal_in_process(milvus_assistant, assistant, encoder):
    """BM25 as a sparse inner product ranks as in process; scores agree to float32."""
    for q in QUESTIONS:
        vector = encoder.encode([q])[0]
        remote, local = milvus_assistant.retriever, assistant.retriever
        for got, want in (
            (remote.lexical.search(q, 50), local.lexical.search(q, 50)),
            (remote.dense.search_vector(vector, 50), local.dense.search_vector(vector, 50)),
        ):
            assert [s.passage for s in got] == [s.passage for s in want], q
            assert all(abs(a.score - b.score) < 1e-4 for a, b in zip(got, want, strict=True))
        reading = QueryAnalysis.plain(q)
        hits = remote.search(reading, 10, query_vector=vector)
        assert [h.passage for h in hits] == [
            h.passage for h in local.search(reading, 10, query_vector=vector)
        ]


# The backends are compared on the first questions of the test split, in id order: the curated
# items, every kind of question; the whole split through Milvus takes a minute and a half.
MILVUS_EVALUATION_QUESTIONS = 300


def test_evaluation_through_milvus_matches_in_process(milvus_assistant, assistant, tmp_path):
    from ketaqa.evaluation.run import run_evaluation

    n = MILVUS_EVALUATION_QUESTIONS
    local = run_evaluation(assistant, "test", tmp_path / "local", limit=n)
    remote = run_evaluation(milvus_assistant, "test", tmp_path / "milvus", limit=n)
    table = {}
    for name, scores in local["retrievers"].items():
        for metric, value in scores.items():
            table[f"{name} {metric}"] = (value, remote["retrievers"][name][metric])
    for metric, value in local["answer"].items():
        if isinstance(value, float):
            table[f"answer {metric}"] = (value, remote["answer"][metric])
    (tmp_path / "in_process_vs_milvus.json").write_text(json.dumps(table, indent=1))
    print(json.dumps(table, indent=1))
    assert len(table) >= 20
    for key, (a, b) in table.items():
        assert abs(a - b) <= 0.01, (key, a, b)


def test_collection_from_another_model_is_stale(milvus_settings, encoder):
    """A collection whose fingerprint names another model is refused, like a stale index."""
    from ketaqa.pipeline.indexing.index import expected_fingerprint, load_index
    from ketaqa.pipeline.search.backends import milvus_collection as mc
    from ketaqa.pipeline.search.backends import open_search
    from ketaqa.pipeline.search.backends.milvus_search import MilvusConnection
    from ketaqa.pipeline.search.bm25 import Parameters

    other = replace(milvus_settings, backend=replace(milvus_settings.backend, collection="other"))
    fingerprint = mc.collection_fingerprint(
        replace(expected_fingerprint(other), model_hash="another-model"), Parameters()
    )
    conn = MilvusConnection(other.backend)
    mc.publish(other, load_index(other), fingerprint, conn)
    with pytest.raises(IndexStateError, match=r"stale: .*model_hash changed"):
        open_search(other, encoder)
    conn.close()
