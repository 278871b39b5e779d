"""The reader's corpus vocabulary, kept beside the index so a cold question need not tokenise
every passage. Built on the real corpus (no model)."""

import logging

import pytest

from ketaqa.config import REPO_ROOT
from ketaqa.pipeline.documents.library import load_corpus
from ketaqa.pipeline.documents.passages import build_passages
from ketaqa.pipeline.indexing.tokenizer import build_tokenizer
from ketaqa.pipeline.search.vocabulary import VOCABULARY_DIR, CorpusVocabulary, corpus_vocabulary


@pytest.fixture(scope="module")
def corpus_texts():
    passages = build_passages(load_corpus(REPO_ROOT / "corpus"))
    tokenizer = build_tokenizer(p.text for p in passages)
    texts = tuple(f"{p.section}\n{p.text}" for p in passages if p.kind != "entry")
    references = tuple(p.text for p in passages if p.kind == "entry")
    return tokenizer, texts, references


def test_a_kept_vocabulary_reads_back_as_computed(corpus_texts, tmp_path):
    tokenizer, texts, references = corpus_texts
    computed = CorpusVocabulary.of(tokenizer, texts, references)
    assert "psychos" in computed.body_terms or "psychoses" in computed.body_terms
    assert "NMDA" in computed.capitals
    first = corpus_vocabulary(tokenizer, texts, references, keep_in=tmp_path)
    [kept] = (tmp_path / VOCABULARY_DIR).glob("vocabulary-*.json")
    assert CorpusVocabulary.from_json(kept.read_text(encoding="utf-8")) == computed == first
    kept.write_text(kept.read_text(encoding="utf-8").replace('"NMDA"', '"NMDAX"'), "utf-8")
    again = corpus_vocabulary(tokenizer, texts, references, keep_in=tmp_path)
    assert "NMDAX" in again.capitals  # read from the kept file, not recomputed


def test_other_texts_never_read_a_kept_vocabulary(corpus_texts, tmp_path):
    tokenizer, texts, references = corpus_texts
    corpus_vocabulary(tokenizer, texts, references, keep_in=tmp_path)
    revised = corpus_vocabulary(tokenizer, texts[:-1], references, keep_in=tmp_path)
    assert revised == CorpusVocabulary.of(tokenizer, texts[:-1], references)
    assert len(list((tmp_path / VOCABULARY_DIR).glob("vocabulary-*.json"))) == 1  # replaced


def test_a_damaged_vocabulary_is_recomputed_and_said(corpus_texts, tmp_path, caplog):
    tokenizer, texts, references = corpus_texts
    corpus_vocabulary(tokenizer, texts, references, keep_in=tmp_path)
    [kept] = (tmp_path / VOCABULARY_DIR).glob("vocabulary-*.json")
    kept.write_text('{"format": 1, "body_terms": [', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        again = corpus_vocabulary(tokenizer, texts, references, keep_in=tmp_path)
    assert again == CorpusVocabulary.of(tokenizer, texts, references)
    assert "unreadable" in caplog.text
    assert CorpusVocabulary.from_json(kept.read_text(encoding="utf-8")) == again  # rewritten
