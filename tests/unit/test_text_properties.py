"""Property-based checks: arbitrary text never crashes the tokenizer, the sentence and passage
splitters or the question check. (The ask path: tests/integration/test_properties.py.)"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketaqa.errors import InputError
from ketaqa.pipeline.answering.assistant import validate_question
from ketaqa.pipeline.documents.corpus import Document
from ketaqa.pipeline.documents.passages import passages_from_outline, split_sentences, units
from ketaqa.pipeline.documents.structure import parse_document
from ketaqa.pipeline.indexing.tokenizer import ClinicalTokenizer

TOKENIZER = ClinicalTokenizer()
any_text = st.text(max_size=3000)
clinical_text = st.text(
    alphabet=st.sampled_from(list("abcdefgh ijklmnop-/.,0123456789()¹²“”–µα\n\t ")),
    max_size=400,
)


@given(any_text)
@settings(max_examples=200, deadline=None)
def test_tokenizer_total(text):
    tokens = TOKENIZER.tokenize(text)
    assert all(isinstance(t, str) and t for t in tokens)


@given(clinical_text)
@settings(max_examples=200, deadline=None)
def test_tokenizer_is_deterministic_on_clinical_looking_text(text):
    assert TOKENIZER.tokenize(text) == TOKENIZER.tokenize(text)


@given(any_text)
@settings(max_examples=150, deadline=None)
def test_sentences_and_units_are_spans_of_the_text(text):
    for start, end in split_sentences(text) + units(text):
        assert 0 <= start < end <= len(text)
        assert text[start:end].strip() == text[start:end]


@given(st.text(max_size=2000), st.sampled_from(["txt", "md"]))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_passage_builder_keeps_every_passage_verbatim(text, kind):
    doc = Document(f"doc.{kind}", None, text, kind)  # type: ignore[arg-type]
    outline = parse_document(doc, ())
    for p in passages_from_outline(doc, outline):
        assert text[p.start : p.end] == p.text and p.text.strip()


@given(any_text)
@settings(max_examples=300, deadline=None)
def test_validate_question_accepts_or_explains(text):
    try:
        q = validate_question(text)
    except InputError as exc:
        assert str(exc)
    else:
        assert q and len(q) <= 2000 and q == " ".join(q.split())
