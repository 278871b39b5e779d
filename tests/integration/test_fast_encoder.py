"""The ONNX query encoder: the torch encoder's vectors and rankings, without importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ketaqa.config import REPO_ROOT
from ketaqa.files import sha256_file
from ketaqa.pipeline.answering.assistant import Assistant
from ketaqa.pipeline.indexing import fast_encoder
from ketaqa.pipeline.indexing.embedding import Encoder, model_fingerprint
from ketaqa.pipeline.indexing.fast_encoder import (
    ARTEFACT_FORMAT,
    META_FILE,
    ONNX_FILE,
    OnnxEncoder,
    artefact_dir,
    ensure_fast_encoder,
    export_onnx,
    fast_encoder_status,
    query_encoder,
)
from ketaqa.pipeline.search.reading import QueryAnalysis

QUESTIONS = [
    json.loads(line)["question"]
    for line in (REPO_ROOT / "eval" / "questions.jsonl").read_text().splitlines()
    if line.strip()
]


def shared_onnx_dir(tmp_path_factory) -> Path:
    """One export per test session (test_bench.py reuses it): an index dir holding only it."""
    folder = tmp_path_factory.getbasetemp() / "ketaqa-onnx-index"
    if fast_encoder_status(folder) != "ok":
        export_onnx(folder)
    return folder


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory, encoder) -> Path:
    return shared_onnx_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def fast(onnx_dir) -> OnnxEncoder:
    enc = query_encoder(onnx_dir)
    assert isinstance(enc, OnnxEncoder)
    return enc


def varied_texts(assistant) -> list[str]:
    passages = sorted(assistant.index.passages, key=lambda p: len(p.text))
    picked = [passages[0], passages[len(passages) // 2], passages[-1]]
    picked += assistant.index.passages[:: max(1, len(passages) // 9)][:9]
    return [
        *QUESTIONS[:: max(1, len(QUESTIONS) // 14)][:14],
        *(p.text for p in picked),
        "KETAMINE INFUSION FOR CRPS: 0.35 MG/KG/H OVER 4 HOURS?",
        "Paediatric anaesthesia — S(+)-ketamine, ≥ 10 µg/kg, 2–3 days…",
        "ketamine",
        "",
        "word " * 400,  # past max_seq_length: truncated at 256 tokens on both paths
    ]


@pytest.mark.slow
def test_vectors_match_the_torch_encoder(fast, encoder, assistant):
    texts = varied_texts(assistant)
    assert len(texts) >= 30
    want = encoder.encode(texts)
    got = fast.encode(texts)
    assert got.dtype == np.float32
    assert got.shape == want.shape == (len(texts), fast.dimension)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = (got * want).sum(axis=1)
    worst = int(cosine.argmin())
    assert cosine.min() >= 0.999, f"cosine {cosine.min():.6f} for {texts[worst][:80]!r}"
    # one text at a time (no padding) gives the vectors a padded batch gives
    single = np.vstack([fast.encode([t]) for t in texts[-6:]])
    assert ((single * got[-6:]).sum(axis=1) >= 0.9999).all()
    assert fast.encode([]).shape == (0, fast.dimension)


@pytest.mark.slow
def test_same_top5_passages_for_every_curated_question(fast, encoder, assistant):
    torch_vectors = encoder.encode(QUESTIONS)
    fast_vectors = fast.encode(QUESTIONS)
    differ = []
    for question, a, b in zip(QUESTIONS, torch_vectors, fast_vectors, strict=True):
        reading = QueryAnalysis.plain(question)
        want = [h.passage for h in assistant.retriever.search(reading, 5, query_vector=a)]
        got = [h.passage for h in assistant.retriever.search(reading, 5, query_vector=b)]
        if got != want:
            differ.append(question)
    assert not differ, differ


@pytest.mark.slow
def test_assistant_answers_the_same_with_either_encoder(fast, assistant):
    served = Assistant(assistant.settings, fast, assistant.index)  # type: ignore[arg-type]
    for question in QUESTIONS[:: len(QUESTIONS) // 8]:
        want, got = assistant.ask(question), served.ask(question)
        assert [rp.passage.id for rp in got.passages] == [rp.passage.id for rp in want.passages]
        assert [rp.highlight for rp in got.passages] == [rp.highlight for rp in want.passages]
        assert got.answerable == want.answerable
        assert got.confidence == pytest.approx(want.confidence, abs=2e-3)


@pytest.mark.slow
def test_query_path_never_imports_torch(onnx_dir):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import ketaqa.pipeline.answering.assistant\n"
        "from ketaqa.pipeline.indexing.fast_encoder import query_encoder\n"
        "enc = query_encoder(Path(sys.argv[1]))\n"
        "assert type(enc).__name__ == 'OnnxEncoder', type(enc)\n"
        "assert enc.encode(['Which patients may benefit?']).shape == (1, 384)\n"
        "heavy = {'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run(
        [sys.executable, "-c", code, str(onnx_dir)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_export_records_the_model_and_a_verified_probe(onnx_dir):
    meta = json.loads((artefact_dir(onnx_dir) / META_FILE).read_text())
    assert meta["format"] == ARTEFACT_FORMAT
    assert meta["model_hash"] == model_fingerprint()
    assert meta["max_seq_length"] == 256
    assert meta["pooling"] == "mean"
    assert meta["min_probe_cosine"] >= fast_encoder.MIN_COSINE
    assert ensure_fast_encoder(onnx_dir) is True  # current: nothing to do


# -- fallbacks: cheap, no model needed -----------------------------------------------------------


def write_artefact(index_dir: Path, **meta_changes: object) -> Path:
    folder = artefact_dir(index_dir)
    folder.mkdir(parents=True)
    onnx = folder / ONNX_FILE
    onnx.write_bytes(b"not really onnx")
    meta = {
        "format": ARTEFACT_FORMAT,
        "model_hash": model_fingerprint(),
        "onnx_sha256": sha256_file(onnx),
        "max_seq_length": 256,
    }
    meta.update(meta_changes)
    (folder / META_FILE).write_text(json.dumps(meta))
    return folder


def test_missing_artefact_falls_back_to_torch(tmp_path):
    assert fast_encoder_status(tmp_path).startswith("missing")
    assert isinstance(query_encoder(tmp_path), Encoder)  # lazy: the model is not loaded here


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"model_hash": "0" * 64}, "stale: exported from other model weights"),
        ({"format": "something-else"}, "stale"),
        ({"max_seq_length": 128}, "stale: max_seq_length changed"),
        ({"onnx_sha256": "0" * 64}, "damaged"),
    ],
)
def test_stale_or_damaged_artefact_is_not_used(tmp_path, changes, status):
    write_artefact(tmp_path, **changes)
    assert fast_encoder_status(tmp_path).startswith(status)
    assert isinstance(query_encoder(tmp_path), Encoder)


@pytest.mark.slow
def test_unreadable_artefact_falls_back_to_torch(tmp_path):
    folder = write_artefact(tmp_path)
    assert fast_encoder_status(tmp_path) == "ok"
    # the checksum matches but onnxruntime cannot parse the file: torch serves the queries
    assert isinstance(query_encoder(tmp_path), Encoder)
    (folder / META_FILE).write_text("{not json")
    assert fast_encoder_status(tmp_path).startswith("damaged")


def test_export_failure_is_reported_and_torch_is_used(tmp_path, monkeypatch):
    def no_onnx(*args, **kwargs):
        raise ImportError("the `onnx` package is not installed")

    monkeypatch.setattr(fast_encoder, "export_onnx", no_onnx)
    messages: list[str] = []
    assert ensure_fast_encoder(tmp_path, messages.append) is False
    assert any("onnx" in m and "torch" in m for m in messages)
    assert isinstance(query_encoder(tmp_path, export_missing=True), Encoder)


@pytest.mark.slow
def test_fixed_vectors_are_kept_beside_the_encoder_and_a_damaged_copy_is_remade(fast):
    from ketaqa.pipeline.indexing.kept_vectors import encode_fixed

    texts = ["schizophrenia", "methamphetamine", "raised intracranial pressure"]
    first = encode_fixed(fast, texts)
    kept = list(fast.path.parent.glob("fixed-*.npy"))
    assert kept and np.allclose(first, fast.encode(texts), atol=1e-6)
    again = encode_fixed(fast, texts)  # read, not encoded: the same numbers exactly
    assert np.array_equal(first, again)
    for path in kept:
        path.write_bytes(b"not a numpy file")
    assert np.allclose(encode_fixed(fast, texts), first, atol=1e-6)
    # other texts never read the kept vectors
    assert encode_fixed(fast, texts[:2]).shape == (2, first.shape[1])


@pytest.mark.slow
def test_word_readings_are_built_only_when_asked_and_read_the_same_as_encoding(fast):
    """`ketaqa index` keeps what the model's whole words read as; a question looks a word up
    instead of encoding it, and gets what encoding it would have given."""
    from ketaqa.pipeline.indexing.kept_vectors import nearest_fixed

    targets = fast.encode(["schizophrenia", "methamphetamine", "children"])
    words = ["psychotic", "meth", "toddler", "invoice", "weather"]
    assert nearest_fixed(fast, words, targets, 0.5) is None  # a question never builds it
    table = nearest_fixed(fast, words, targets, 0.5, build=True)
    similarity = fast.encode(words) @ targets.T
    expected = {
        w: int(row.argmax()) for w, row in zip(words, similarity, strict=True) if row.max() >= 0.5
    }
    assert {w: i for w, (i, _) in table.items()} == expected
    assert "invoice" not in table and "weather" not in table
    assert nearest_fixed(fast, words, targets, 0.5) == table  # read back, not rebuilt
    assert nearest_fixed(fast, words, targets, 0.6) is None  # another floor: another table
    for path in fast.path.parent.glob("nearest-*.json"):
        path.write_text("{not json")
    assert nearest_fixed(fast, words, targets, 0.5) is None  # damaged: encode, never misread
