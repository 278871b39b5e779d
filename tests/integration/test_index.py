"""The saved index: manifest, staleness, damage, atomic builds, determinism."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ketaqa.config import DenseIndexSettings
from ketaqa.errors import IndexStateError
from ketaqa.pipeline.indexing import index as index_module
from ketaqa.pipeline.indexing.index import build_index, index_status, load_index, open_index


def live_build(settings) -> Path:
    return settings.index_dir / "builds" / (settings.index_dir / "CURRENT").read_text().strip()


@pytest.fixture
def built(fresh_settings, assistant, settings):
    """A private copy of the session's index (built once) over a private copy of the corpus."""
    shutil.copytree(settings.index_dir, fresh_settings.index_dir)
    return fresh_settings


def test_missing_index_is_reported(fresh_settings):
    assert index_status(fresh_settings).startswith("missing")
    with pytest.raises(IndexStateError, match="missing"):
        load_index(fresh_settings)


@pytest.mark.slow
def test_manifest_records_what_makes_it_stale(built):
    manifest = json.loads((live_build(built) / "manifest.json").read_text())
    fp = manifest["fingerprint"]
    for key in ("corpus_hash", "model_hash", "model_id", "chunker_version", "tokenizer_version"):
        assert fp[key]
    assert manifest["passages"] > 100
    assert index_status(built) == "ok"


@pytest.mark.slow
def test_changed_corpus_makes_index_stale_and_it_is_rebuilt(built, encoder):
    before = load_index(built)
    statement = built.corpus_dir / "position-statement.txt"
    added = "A sentence added by this test."
    text = statement.read_text().replace(
        "The optimal dose is unresolved.", f"The optimal dose is unresolved. {added}"
    )
    statement.write_text(text)
    assert index_status(built) == "stale: corpus_hash changed"
    messages: list[str] = []
    after = open_index(built, encoder, progress=messages.append)
    assert any("stale" in m and "rebuilding" in m for m in messages)
    assert any(added in p.text for p in after.passages)
    assert not any(added in p.text for p in before.passages)


@pytest.mark.slow
def test_changed_settings_make_index_stale(built):
    assert index_status(built.with_retrieval(bm25_variant="plus")).startswith("stale")


@pytest.mark.slow
@pytest.mark.parametrize("name", index_module.FILES + ("manifest.json",))
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_each_damaged_file_is_detected(built, name, damage):
    path = live_build(built) / name
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    status = index_status(built)
    assert status.startswith("damaged"), status
    with pytest.raises(IndexStateError, match="damaged"):
        load_index(built)


@pytest.mark.slow
def test_damaged_index_is_rebuilt_with_a_message(built, encoder):
    (live_build(built) / "dense.faiss").write_bytes(b"")
    messages: list[str] = []
    rebuilt = open_index(built, encoder, progress=messages.append)
    assert messages and "damaged" in messages[0] and "rebuilding" in messages[0]
    assert index_status(built) == "ok" and rebuilt.passages


@pytest.mark.slow
def test_index_from_an_older_format_is_stale(built):
    manifest_path = live_build(built) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["fingerprint"]["format_version"] = 0
    manifest_path.write_text(json.dumps(manifest))
    assert index_status(built).startswith("stale")


@pytest.mark.slow
def test_garbage_current_pointer_is_damage(built):
    (built.index_dir / "CURRENT").write_text("../../etc")
    assert index_status(built).startswith("damaged")


@pytest.mark.slow
def test_failed_build_leaves_previous_index_usable(built, encoder, monkeypatch):
    previous = live_build(built)

    def explode(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(index_module.faiss, "write_index", explode)
    statement = built.corpus_dir / "position-statement.txt"
    statement.write_text(statement.read_text() + "\nMore text.\n")
    with pytest.raises(RuntimeError):
        build_index(built, encoder)
    assert live_build(built) == previous
    # the old build is intact; it is only stale because the corpus changed
    assert index_status(built) == "stale: corpus_hash changed"


@pytest.mark.slow
def test_same_corpus_gives_same_index_and_ranking(built, encoder, raw_encoder, tmp_path):
    from dataclasses import replace

    from ketaqa.pipeline.answering.assistant import Assistant

    other = replace(built, index_dir=tmp_path / "other-index")
    build_index(other, raw_encoder)  # the model itself, not the session's remembered vectors
    a, b = live_build(built), live_build(other)
    for name in ("passages.json", "tokens.json", "tokenizer.json", "units.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    q = "Is oral ketamine useful after an infusion?"
    ids = [
        [rp.passage.id for rp in Assistant.open(s, encoder).ask(q, top_k=10).passages]
        for s in (built, other)
    ]
    assert ids[0] == ids[1]


def test_large_indexes_switch_to_approximate_search():
    import faiss
    import numpy as np

    from ketaqa.pipeline.indexing.index import dense_index

    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(2000, 32)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = dense_index(vectors, DenseIndexSettings(approximate_from=10_000))
    approx = dense_index(vectors, DenseIndexSettings(approximate_from=1000))
    assert isinstance(exact, faiss.IndexFlatIP) and isinstance(approx, faiss.IndexHNSWFlat)
    queries = vectors[:50]
    _, want = exact.search(queries, 10)
    _, got = approx.search(queries, 10)
    recall = np.mean([len(set(w) & set(g)) / 10 for w, g in zip(want, got, strict=True)])
    assert recall >= 0.9
    assert np.allclose(approx.reconstruct(3), vectors[3])
