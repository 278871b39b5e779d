"""Documents as the college publishes them: the statement as a PDF, and a revised statement,
keep the structure, citations and pages the .txt has."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader

from ketaqa.config import REPO_ROOT
from ketaqa.pipeline.documents.library import load_corpus
from ketaqa.pipeline.documents.passages import build_passages
from ketaqa.pipeline.documents.pdf_text import dehyphenate, normalise
from ketaqa.pipeline.documents.structure import parse_document

BULLET = re.compile(r"(^|\n)(\s*)[-•] ")


def _same_text(text: str) -> str:
    """Passage text with bullet glyphs made alike: the .txt writes "- ", the PDF prints "•"."""
    return BULLET.sub(r"\1\2• ", text)


@pytest.fixture(scope="module")
def txt_passages():
    return build_passages(load_corpus(REPO_ROOT / "corpus"))


@pytest.fixture(scope="module")
def pdf_corpus(statement_pdf_corpus):
    return load_corpus(statement_pdf_corpus)


@pytest.fixture(scope="module")
def pdf_passages(pdf_corpus):
    return build_passages(pdf_corpus)


def test_pdf_parses_into_the_same_structure_as_the_txt(txt_passages, pdf_passages, pdf_corpus):
    (doc,) = pdf_corpus.documents
    assert not parse_document(doc, pdf_corpus.references).problems
    txt = {_same_text(p.text): p for p in txt_passages if p.kind != "contents"}
    pdf = {_same_text(p.text): p for p in pdf_passages if p.kind != "contents"}
    assert set(txt) == set(pdf), sorted(set(txt) ^ set(pdf))[:3]
    for text, p in pdf.items():
        assert p.section == txt[text].section, text[:60]
        assert p.reference_keys == txt[text].reference_keys, text[:60]
        assert [f.mark for f in p.footnotes] == [f.mark for f in txt[text].footnotes]


def test_running_headers_and_footers_are_dropped(pdf_corpus, pdf_passages):
    (doc,) = pdf_corpus.documents
    assert "FPM-PS41" not in doc.text
    assert not re.search(r"Page \d+ of \d+", doc.text)
    assert "  " not in doc.text and "\u00ad" not in doc.text


def test_every_passage_stands_on_the_pdf_pages_it_claims(pdf_corpus, pdf_passages):
    """Each passage is verbatim to the normalised text and its characters are on its pages of
    the PDF's own text (pypdf), with line breaks and hyphenation aside."""
    (doc,) = pdf_corpus.documents
    reader = PdfReader(doc.path)
    pages = {}
    for page in reader.pages:
        text = page.extract_text()
        footer = re.search(r"Page (\d+) of \d+", text)
        body = [ln for ln in text.splitlines() if "FPM-PS41" not in ln and ln != footer.group(0)]
        pages[int(footer.group(1))] = "\n".join(body)  # the printed page is the footer's

    def squash(text: str) -> str:
        return re.sub(r"[\s\u00ad-]+", "", normalise(text))

    for p in pdf_passages:
        assert doc.text[p.start : p.end] == p.text
        first, last = p.pages.first, p.pages.last
        assert first is not None and last is not None, p.id
        source = "".join(pages[n] for n in range(first, last + 1))
        assert squash(p.text) in squash(source), (p.id, p.pages.label())


def test_printed_pages_follow_the_pdf(pdf_passages):
    by_section = {}
    for p in pdf_passages:
        by_section.setdefault(p.section.parts[0], []).append(p.pages)
    assert {s.first for s in by_section["Title"]} == {1}
    assert {s.first for s in by_section["Contents"]} == {2}
    firsts = [p.pages.first for p in pdf_passages]
    assert firsts == sorted(firsts), "pages run in reading order"
    assert max(firsts) > 10


def test_hyphenation_is_undone_without_breaking_compounds():
    words = {"dose-dependent", "dose", "dependent", "non", "cancer"}
    assert dehyphenate("psychotomi-", "metic effects", words) == "psychotomimetic effects"
    assert dehyphenate("the dose-", "dependent effect", words) == "the dose-dependent effect"
    assert dehyphenate("non-", "cancer pain", words) == "non-cancer pain"
    assert normalise("e\ufb03cacy  of") == "efficacy of"


@pytest.fixture(scope="module")
def revised(revised_corpus):
    corpus = load_corpus(revised_corpus)
    (doc,) = corpus.documents
    return corpus, parse_document(doc, corpus.references), build_passages(corpus)


def test_revised_statement_keeps_its_structure(revised, txt_passages):
    _corpus, outline, passages = revised
    assert not outline.problems
    items: dict[str, set[str]] = {}
    for b in outline.blocks:
        if b.kind == "item" and b.path.parts[0] == "Section I":
            items.setdefault(b.path.parts[2].split()[0], set()).update(b.reference_keys)
    assert items["A-4"] == {"bell2018"} and "A-3" not in items
    assert items["A-2"] == {"cohen2018"} and items["C-1"] == {"noppers2010", "niesters2014"}
    added = [p for p in passages if p.section.parts[0] == "Section III"]
    assert added and all(not p.reference_keys for p in added)
    appendix = {p.section.parts[1] for p in passages if p.section.parts[0] == "Appendix 1"}
    assert any(m.startswith("4 (a)") for m in appendix)
    entries = [b for b in outline.blocks if b.kind == "entry"]
    assert len(entries) == len([b for b in txt_passages if b.kind == "entry"])
    assert all(len(b.reference_keys) == 1 for b in entries)
    kept = {p.text: p.reference_keys for p in txt_passages}
    same = [p for p in passages if p.text in kept]
    assert len(same) >= len(txt_passages) - 2
    assert all(p.reference_keys == kept[p.text] for p in same)


def test_structure_summary_is_the_same_for_txt_and_pdf(pdf_corpus):
    from ketaqa.pipeline.documents.structure import structure_summary

    txt = load_corpus(REPO_ROOT / "corpus")
    lines = [
        structure_summary(d, parse_document(d, c.references))
        for c in (txt, pdf_corpus)
        for d in c.documents
    ]
    counts = [line.split(": ", 1)[1].rsplit(", pages", 1)[0] for line in lines]
    assert counts[0] == counts[1]
    assert "15 items, 53 bibliography entries (53 linked)" in counts[0]


GUIDANCE = [  # a synthetic document outside the template: (text, bold)
    ("Guidance on the storage of a synthetic test compound", True),
    ("Storage", True),
    ("Keep the synthetic compound below 25 degrees, away from light.", False),
    ("Disposal", True),
    ("Return unused synthetic compound to the pharmacy; never pour it away.", False),
]


def test_a_pdf_outside_the_template_takes_its_sections_from_its_bold_headings(tmp_path):
    """Part by part: no template cue at all, yet each paragraph sits under the nearest
    heading the PDF sets in bold, instead of the whole document collapsing to its file name."""
    from document_fixtures import find_font
    from fpdf import FPDF

    font_dir = find_font()
    if font_dir is None:
        pytest.skip("no DejaVu TTF (Debian fonts-dejavu-core) to render the fixture PDF")
    pdf = FPDF(format="A4")
    pdf.add_font("dejavu", "", str(font_dir / "DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", str(font_dir / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    for text, bold in GUIDANCE:
        pdf.set_font("dejavu", "B" if bold else "", 12 if bold else 10)
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2 if bold else 6)
    pdf.output(str(tmp_path / "guidance.pdf"))
    passages = build_passages(load_corpus(tmp_path))
    sections = {p.text: str(p.section) for p in passages}
    keep = next(t for t in sections if t.startswith("Keep the synthetic"))
    gone = next(t for t in sections if t.startswith("Return unused"))
    assert sections[keep].endswith("Storage")
    assert sections[gone].endswith("Disposal")
    assert not any(t in ("Storage", "Disposal") for t in sections)  # headings are not passages


def test_a_text_outside_the_template_takes_its_sections_from_upper_case_headings(tmp_path):
    (tmp_path / "note.txt").write_text(
        "STORAGE\n\nKeep it cool.\n\nDISPOSAL\n\nReturn it to the pharmacy.\n", encoding="utf-8"
    )
    passages = build_passages(load_corpus(tmp_path))
    assert [(p.text, str(p.section).split(" › ")[-1]) for p in passages] == [
        ("Keep it cool.", "STORAGE"),
        ("Return it to the pharmacy.", "DISPOSAL"),
    ]
