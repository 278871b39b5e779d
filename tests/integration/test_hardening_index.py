"""Issue #16 F2: a cached abstract that makes the tokenizer or the encoder fail is skipped and
named, the rest is indexed, and the index is not rebuilt on every open while that file stays.

The abstracts are the synthetic fixture set (made-up text, never real abstracts); the failures
are provoked by wrapping the real encoder and tokenizer so they raise for one abstract's text.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from ketaqa.abstracts.importer import import_path
from ketaqa.config import REPO_ROOT
from ketaqa.pipeline.answering.assistant import Assistant
from ketaqa.pipeline.documents.abstract_corpus import load_rendered
from ketaqa.pipeline.documents.corpus import load_references
from ketaqa.pipeline.indexing import tokenizer as tokenizer_module
from ketaqa.pipeline.indexing.index import build_index, index_status, load_index, open_index

pytestmark = pytest.mark.slow  # every test here loads the embedding model

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "synthetic_pubmed"


class FailingEncoder:
    """The real encoder, except that any batch holding `marker` raises, as a crashing
    encoder would."""

    def __init__(self, inner, marker: str):
        self.inner, self.marker, self.calls = inner, marker, 0

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        self.calls += 1
        if any(self.marker in t for t in texts):
            raise RuntimeError(f"synthetic encoder failure\non {self.marker!r}")
        return self.inner.encode(texts, show_progress=show_progress)


@pytest.fixture
def with_abstracts(fresh_settings):
    """The statement plus the three synthetic abstracts, keyed by reference key -> text."""
    refs = load_references(fresh_settings.corpus_dir / "references.json")
    report = import_path(fresh_settings.corpus_dir, FIXTURES / "import_set.xml", refs)
    assert report.imported == ("lumanauw2019", "masaracchia2019", "tawfik2013")
    texts = {r.key: r.text for r in load_rendered(fresh_settings.corpus_dir)}
    return fresh_settings, texts


def test_failing_abstracts_are_skipped_named_and_the_index_is_usable(
    with_abstracts, encoder, monkeypatch, caplog
):
    settings, texts = with_abstracts
    bad_for_encoder, bad_for_tokenizer = "Fabricated purpose", "made-up unstructured"
    assert bad_for_encoder in texts["tawfik2013"]
    assert bad_for_tokenizer in texts["lumanauw2019"]
    real_tokenize = tokenizer_module.ClinicalTokenizer.tokenize

    def tokenize(self, text, *, drop_stopwords=True):
        if bad_for_tokenizer in text:
            raise ValueError("synthetic tokenizer failure")
        return real_tokenize(self, text, drop_stopwords=drop_stopwords)

    monkeypatch.setattr(tokenizer_module.ClinicalTokenizer, "tokenize", tokenize)
    failing = FailingEncoder(encoder, bad_for_encoder)
    messages: list[str] = []
    with caplog.at_level(logging.WARNING):
        index = build_index(settings, failing, progress=messages.append)

    docs = {p.doc_id for p in index.passages}
    assert "abstracts/masaracchia2019.xml" in docs
    assert "position-statement.txt" in docs
    assert not docs & {"abstracts/tawfik2013.xml", "abstracts/lumanauw2019.xml"}
    skipped = [m for m in messages if m.startswith("skipped:")]
    assert len(skipped) == 2 and all("\n" not in m for m in skipped)
    assert any("tawfik2013.xml: embedding failed (RuntimeError" in m for m in skipped)
    assert any("lumanauw2019.xml: tokenizing failed (ValueError" in m for m in skipped)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("tawfik2013.xml" in w for w in warnings) == 1
    assert sum("lumanauw2019.xml" in w for w in warnings) == 1
    manifest = json.loads((index.path / "manifest.json").read_text())
    assert any("tawfik2013.xml" in p for p in manifest["problems"])

    # Every stored piece agrees (counts are checked by load_index) and answers come back.
    assert load_index(settings).manifest["passages"] == len(index.passages)
    answer = Assistant(settings, encoder, index).ask(
        "How many imaginary blue test devices did invented finding 14 concern?", top_k=3
    )
    assert "Invented finding number 14 concerned 42" in answer.passages[0].passage.text

    # The skipped files are unchanged, so the index is current: no rebuild on the next open.
    assert index_status(settings) == "ok"
    calls, opened = failing.calls, []
    again = open_index(settings, failing, progress=opened.append)
    assert again.path == index.path and failing.calls == calls and opened == []

    # Changing a skipped file does make the index stale (so a fixed file gets indexed).
    path: Path = settings.corpus_dir / "abstracts" / "tawfik2013.xml"
    path.write_bytes(path.read_bytes() + b"\n")
    assert index_status(settings) == "stale: corpus_hash changed"


def test_a_failure_in_the_statement_still_stops_the_build(with_abstracts, encoder):
    settings, _ = with_abstracts
    statement = (settings.corpus_dir / "position-statement.txt").read_text()
    marker = "The optimal dose is unresolved."
    assert marker in statement
    with pytest.raises(RuntimeError, match="synthetic encoder failure"):
        build_index(settings, FailingEncoder(encoder, marker))
    assert index_status(settings).startswith("missing")
