"""PDFs are read with their real page numbers; broken ones are named and skipped."""

from __future__ import annotations

import pytest
from fpdf import FPDF

from ketaqa.errors import CorpusError
from ketaqa.pipeline.documents.library import load_corpus
from ketaqa.pipeline.indexing.index import build_index, load_index

PAGE_TEXTS = [
    "Synthetic test page one. Ketamine infusions were studied in a made-up cohort.",
    "Synthetic test page two. Nothing here comes from a real publication.",
]


def write_pdf(path, pages=PAGE_TEXTS, encrypt=False):
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    if encrypt:
        pdf.set_encryption(owner_password="owner", user_password="user")
    pdf.output(str(path))


def test_pdf_pages_are_real(tmp_path):
    write_pdf(tmp_path / "synthetic.pdf")
    corpus = load_corpus(tmp_path)
    (doc,) = corpus.documents
    assert doc.kind == "pdf"
    second = doc.text.index("Synthetic test page two")
    assert doc.page_at(0) == 1 and doc.page_at(second) == 2


@pytest.mark.slow
def test_corrupt_and_encrypted_pdfs_are_named_and_skipped(fresh_settings, encoder):
    corpus_dir = fresh_settings.corpus_dir
    (corpus_dir / "broken.pdf").write_bytes(b"%PDF-1.4\n this is not really a pdf \x00\x01")
    write_pdf(corpus_dir / "locked.pdf", encrypt=True)
    write_pdf(corpus_dir / "good.pdf")
    corpus = load_corpus(corpus_dir)
    problems = " | ".join(corpus.problems)
    assert "broken.pdf" in problems and "corrupt" in problems
    assert "locked.pdf" in problems and "encrypted" in problems
    assert {d.doc_id for d in corpus.documents} == {"good.pdf", "position-statement.txt"}

    build_index(fresh_settings, encoder)
    index = load_index(fresh_settings)
    pdf_passages = [p for p in index.passages if p.doc_id == "good.pdf"]
    assert {p.pages.first for p in pdf_passages} == {1, 2}
    assert any("broken.pdf" in p for p in index.manifest["problems"])


def test_binary_text_file_is_named(tmp_path):
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00garbage")
    corpus = load_corpus(tmp_path)
    assert not corpus.documents and "binary.txt" in corpus.problems[0]


def test_missing_corpus_dir_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nope")
