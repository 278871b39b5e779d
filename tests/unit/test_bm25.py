"""SparseBM25 against rank-bm25, the reference: equal scores (to 1e-9) on the real corpus's
tokens and on random corpora, for every variant; and `rank` against a plain sort."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaqa.config import REPO_ROOT
from ketaqa.pipeline.documents.library import load_corpus
from ketaqa.pipeline.indexing.index import collect_passages
from ketaqa.pipeline.indexing.tokenizer import build_tokenizer
from ketaqa.pipeline.search.bm25 import Parameters, SparseBM25
from ketaqa.pipeline.search.retrieve import BM25_VARIANTS, rank

VARIANTS = sorted(BM25_VARIANTS)


@pytest.fixture(scope="module")
def corpus_tokens():
    """The statement's passages as the index tokenises them (no model needed)."""
    corpus_dir = REPO_ROOT / "corpus"
    corpus = load_corpus(corpus_dir)
    passages = collect_passages(corpus, corpus_dir)
    references = {r.key: r for r in corpus.references}
    tokenizer = build_tokenizer(p.text for p in passages)
    tokens = [tokenizer.tokenize(p.index_text(references)) for p in passages]
    return tokenizer, tokens


QUESTIONS = [
    "What are the contraindications to ketamine infusions?",
    "ketamine ketamine dose mg/kg",
    "psychotomimetic adverse effects of oral ketamine in neuropathic pain",
    "Visser and Schug 2006",
    "zzz-not-a-word",
    "",
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_scores_equal_rank_bm25_on_the_corpus(corpus_tokens, variant):
    tokenizer, tokens = corpus_tokens
    reference = BM25_VARIANTS[variant](tokens)
    ours = SparseBM25(tokens, Parameters(variant))
    queries = [tokenizer.tokenize(q) for q in QUESTIONS]
    queries += [doc[:12] for doc in tokens[::25]]  # passages' own words, repeats included
    for query in queries:
        expected = reference.get_scores(query)
        np.testing.assert_allclose(ours.get_scores(query), expected, rtol=0, atol=1e-9)


WORDS = st.sampled_from([f"w{i}" for i in range(40)])
DOCS = st.lists(st.lists(WORDS, min_size=0, max_size=30), min_size=1, max_size=60).filter(
    lambda docs: any(docs)
)


@settings(max_examples=150, deadline=None)
@given(
    docs=DOCS,
    query=st.lists(WORDS | st.just("unseen"), max_size=8),
    variant=st.sampled_from(VARIANTS),
)
def test_scores_equal_rank_bm25_on_random_corpora(docs, query, variant):
    expected = BM25_VARIANTS[variant](docs).get_scores(query)
    got = SparseBM25(docs, Parameters(variant)).get_scores(query)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(docs=DOCS, query=st.lists(WORDS, min_size=1, max_size=8))
def test_sparse_vectors_inner_product_is_the_score(docs, query):
    """What the Milvus backend stores and sends: document weights . query weights = BM25."""
    bm25 = SparseBM25(docs)
    q = bm25.query_weights(query)
    got = [sum(w * q.get(t, 0.0) for t, w in doc.items()) for doc in bm25.document_vectors()]
    np.testing.assert_allclose(got, bm25.get_scores(query), rtol=0, atol=1e-9)


@given(st.lists(st.sampled_from([0.0, 1.0, 2.5, 3.0]), min_size=0, max_size=40), st.integers(0, 45))
def test_rank_orders_by_score_then_position(values, k):
    scores = np.array(values)
    expected = sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]
    assert [s.passage for s in rank(scores, k)] == expected
