"""Revisions of the statement keep their structure, or say loudly that they did not.

The revisions are drawn from today's corpus/position-statement.txt at test time
(tests/revisions.py): heading wording, numbering, case, Markdown, moved, added or removed
sections, list markers; each as the .txt and, fewer of them, as the PDF the college would print
(tests/document_fixtures.py). No model: retrieval over revisions is
tests/integration/test_revision_retrieval.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from document_fixtures import find_font, render
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from revisions import (
    APPENDIX,
    BIBLIOGRAPHY,
    BULLETS,
    CASES,
    CHANGES,
    CONTENTS,
    MOVES,
    NUMBERING,
    REVIEW,
    Revision,
    expected_counts,
    hand_revision,
    revise,
    unrecoverable,
)

from ketaqa.config import REPO_ROOT
from ketaqa.pipeline.documents.corpus import Document, load_pdf
from ketaqa.pipeline.documents.library import load_corpus
from ketaqa.pipeline.documents.linking import BRACKET_CITE_RE
from ketaqa.pipeline.documents.outline import BlockKind
from ketaqa.pipeline.documents.passages import MAX_WORDS, passages_from_outline, word_count
from ketaqa.pipeline.documents.structure import parse_document, parse_generic
from ketaqa.pipeline.documents.structure_report import (
    HUGE_BLOCK,
    structure_checks,
    structure_counts,
)

TODAY = (REPO_ROOT / "corpus" / "position-statement.txt").read_text(encoding="utf-8")
REFERENCES = load_corpus(REPO_ROOT / "corpus").references

revisions = st.builds(
    Revision,
    contents=st.sampled_from(CONTENTS),
    review=st.sampled_from(REVIEW),
    bibliography=st.sampled_from(BIBLIOGRAPHY),
    appendix=st.sampled_from(APPENDIX),
    numbering=st.sampled_from(NUMBERING),
    case=st.sampled_from(CASES),
    markdown=st.booleans(),
    bullet=st.sampled_from(BULLETS),
    move=st.sampled_from(MOVES),
    change=st.sampled_from(CHANGES),
)


def parsed(text: str):
    doc = Document("position-statement.txt", None, text, "txt")  # type: ignore[arg-type]
    outline = parse_document(doc, REFERENCES)
    return doc, outline, passages_from_outline(doc, outline)


def contraindication(passages):
    return next(p for p in passages if "poorly controlled psychoses" in p.text)


FONT = find_font()
PDF_CODE = "FPM-PS41 (2022)"
MARKER = re.compile(r"(^|\n)(\s*)[-•] ")
# A-2's answer to guideline question (ii), as today's file prints it: its lines, markers aside
CONTRAINDICATIONS = [
    MARKER.sub("", line).strip()
    for line in re.search(r"^\(ii\) “What are.*?(?=^\(iii\))", TODAY, re.S | re.M)
    .group(0)
    .splitlines()
    if line.strip()
]


def parsed_pdf(text: str, folder: Path):
    """`text` printed as the college lays out its PDFs, then read back as the index reads it."""
    assert FONT is not None
    path = render(text, folder / "position-statement.pdf", PDF_CODE, FONT)
    doc = load_pdf(path, "position-statement.pdf")
    outline = parse_document(doc, REFERENCES)
    return doc, outline, passages_from_outline(doc, outline)


def read_alike(text: str) -> str:
    """Passage text with list markers and spacing made alike: the .txt writes "- " and indents
    with spaces, the PDF prints "•" and indents by position."""
    return " ".join(MARKER.sub(r"\1\2• ", text).split())


def test_the_default_revision_is_todays_file():
    assert revise(TODAY, Revision()) == TODAY


def assert_structure_kept(revision, doc, outline, passages) -> None:
    """The items and sections the revision should have, every entry linked, no structure
    warning, no passage over the limit, every passage verbatim."""
    today = structure_counts(parsed(TODAY)[1])
    counts = structure_counts(outline)
    assert (counts.items, counts.sections) == expected_counts(revision, today.items, today.sections)
    assert counts.entries == today.entries and counts.entries_linked == today.entries
    assert structure_checks(doc, outline) == []
    assert max(word_count(p.text) for p in passages) <= MAX_WORDS
    for p in passages:
        assert doc.text[p.start : p.end] == p.text


@given(revisions)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_drawn_revision_keeps_its_structure(revision):
    doc, outline, passages = parsed(revise(TODAY, revision))
    assert_structure_kept(revision, doc, outline, passages)
    ci = contraindication(passages)
    assert ci.reference_keys == ("cohen2018",) and "(ii) contraindications" in str(ci.section)


@pytest.mark.skipif(FONT is None, reason="no DejaVu TTF (fonts-dejavu-core) to print the PDF")
@given(revision=revisions)
# Subsection D before C: item C-3's heading wraps at the foot of a page (pdf_text read it as
# two paragraphs, "… pain management." and "*Biomed Pharmacother* 2006; …")
@example(revision=Revision(move="paediatric-before-pre-2011"))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_pdf_of_a_drawn_revision_keeps_its_structure(revision, tmp_path_factory):
    """The revision printed as a PDF parses as its .txt does: the items and sections expected,
    every bibliography entry linked, A-2 (ii) holding the contraindications, no passage over
    the limit, and the same passages with the same sections and citations."""
    text = revise(TODAY, revision)
    doc, outline, passages = parsed_pdf(text, tmp_path_factory.mktemp("revision-pdf"))
    assert_structure_kept(revision, doc, outline, passages)
    answer = [p for p in passages if "(ii) contraindications" in str(p.section)]
    assert answer and all(p.reference_keys == ("cohen2018",) for p in answer)
    held = read_alike(" ".join(p.text for p in answer))
    assert [line for line in CONTRAINDICATIONS if read_alike(line) not in held] == []
    pdf = {read_alike(p.text): (p.section, p.reference_keys) for p in passages}
    txt = {read_alike(p.text): (p.section, p.reference_keys) for p in parsed(text)[2]}
    pdf = {t: v for t, v in pdf.items() if v[0].parts[0] != "Contents"}
    txt = {t: v for t, v in txt.items() if v[0].parts[0] != "Contents"}
    assert sorted(set(pdf) ^ set(txt)) == []
    assert [t[:60] for t in pdf if pdf[t] != txt[t]] == []


def test_the_hand_revision_keeps_every_passage_and_citation():
    """Thirteen headings reworded, sections numbered 1. and 2., the appendix moved: the same
    passages with the same citations; only the renamed headings change in section paths."""
    doc, outline, passages = parsed(hand_revision(TODAY))
    _, _, before = parsed(TODAY)
    assert structure_checks(doc, outline) == []
    assert sorted((p.text, p.reference_keys) for p in passages if p.kind != "contents") == sorted(
        (p.text, p.reference_keys) for p in before if p.kind != "contents"
    )
    assert "1. Ketamine as an analgesic" not in " ".join(p.text for p in passages)
    ci = contraindication(passages)
    assert str(ci.section) == (
        "Section I › A. Recent systematic reviews and guidelines › A-2 Cohen 2018 › "
        "(ii) contraindications"
    )


def test_the_issues_revision_is_read_as_today():
    """The five headings of issue 24: contents, literature review, sections as '1.' in
    sentence case, the bibliography renamed."""
    text = (
        TODAY.replace("CONTENTS\n", "Table of contents\n")
        .replace("LITERATURE REVIEW\n", "Review of the literature\n")
        .replace(
            "Section I. KETAMINE AS AN ANALGESIC IN CHRONIC PAIN",
            "1. Ketamine as an analgesic in chronic pain",
        )
        .replace(
            "Section II. KETAMINE AS PRE-EMPTIVE ANALGESIC OR AS “OPIOID-SPARING”",
            "2. Ketamine as pre-emptive analgesic or as “opioid-sparing”",
        )
        .replace("BIBLIOGRAPHY\n", "Reference list\n")
    )
    _, _, passages = parsed(text)
    _, _, before = parsed(TODAY)
    assert [(p.text, p.section, p.reference_keys) for p in passages if p.kind != "contents"] == [
        (p.text, p.section, p.reference_keys) for p in before if p.kind != "contents"
    ]


def test_an_unrecoverable_statement_warns_and_still_cites():
    """No contents and no section numbers: paragraphs, none over the limit, citing the item
    heading above them, and the warnings name what was not found."""
    doc, outline, passages = parsed(unrecoverable(TODAY))
    checks = structure_checks(doc, outline)
    assert any(c.startswith("no study items found") for c in checks)
    assert max(word_count(p.text) for p in passages) <= MAX_WORDS
    assert "cohen2018" in contraindication(passages).reference_keys
    a1 = next(p for p in passages if "Cochrane-style SR" in p.text)
    assert a1.reference_keys == ("orhurhu2019",)
    c4 = next(p for p in passages if "The magnitude of reported benefit" in p.text)
    assert c4.reference_keys == ("hocking2003",)
    assert not any(b.kind == BlockKind.ITEM for b in outline.blocks)


def test_a_fallback_paragraph_of_several_items_cites_each_of_them():
    """The C section lists its items as bullets with no blank line between them, so the
    paragraph fallback reads C-1 to C-4 as one paragraph. It cited C-1 (a)'s review alone,
    its part (b) and C-2 to C-4 not at all, and every passage cut from it as Noppers 2010.
    Cut from today's file: each item's lines cite every study its heading names."""
    c_items = TODAY[TODAY.index("- C-1.**") : TODAY.index("\n\nD. Paediatric literature")]
    doc = Document("notes.txt", None, "PRE-2011 REPORTS\n\n" + c_items, "txt")  # type: ignore[arg-type]
    outline = parse_generic(doc, REFERENCES)
    assert [b.reference_keys for b in outline.blocks] == [
        ("noppers2010", "niesters2014"),
        ("bell2009",),
        ("visser2006",),
        ("hocking2003",),
    ]
    assert [doc.text[b.start : b.end].split(" ", 2)[1] for b in outline.blocks] == [
        "C-1.**",
        "C-2.**",
        "C-3.**",
        "C-4.**",
    ]
    for p in passages_from_outline(doc, outline):
        label = next(b for b in outline.blocks if b.start <= p.start < b.end)
        assert p.reference_keys == label.reference_keys, p.text[:60]


def test_a_fallback_paragraph_cites_every_reference_it_mentions():
    """Appendix 1's three in-text mentions, read as one paragraph: each names its record."""
    lines = [line for line in TODAY.split("\n") if BRACKET_CITE_RE.search(line)]
    doc = Document("notes.txt", None, "MECHANISMS\n\n" + "\n".join(lines), "txt")  # type: ignore[arg-type]
    (block,) = parse_generic(doc, REFERENCES).blocks
    assert block.reference_keys == ("visser2006", "niesters2014", "kissin2000")


def test_contents_that_disagree_with_the_headings_are_named():
    """A section whose heading no longer reads as one: the contents table says so."""
    text = TODAY.replace("Section II. KETAMINE AS", "KETAMINE AS", 1)
    doc, outline, _ = parsed(text)
    checks = structure_checks(doc, outline)
    assert "contents lists 4 headings, 3 found (not found: Section II)" in checks


@pytest.mark.parametrize("words", [130, 2400])
def test_no_passage_is_over_the_limit_however_long_the_block(words):
    """One sentence with no full stop, as a failed parse leaves a list: cut at lines, then
    between words, never longer than MAX_WORDS; a block many times the limit is named."""
    text = "HEADING ONE\n\n" + "\n".join(" ".join(["word"] * 7) for _ in range(words // 7))
    text += "\n" + " ".join(["long"] * words)
    doc = Document("notes.txt", None, text, "txt")  # type: ignore[arg-type]
    outline = parse_document(doc, ())
    passages = passages_from_outline(doc, outline)
    assert max(word_count(p.text) for p in passages) <= MAX_WORDS
    assert all(text[p.start : p.end] == p.text for p in passages)
    huge = [c for c in structure_checks(doc, outline) if c.startswith("a passage of")]
    assert bool(huge) == (2 * words > HUGE_BLOCK), huge


def test_the_about_panel_shows_the_structure_warning_first():
    from ketaqa.apps.ui.render import about_corpus_html

    html = about_corpus_html("12 abstracts", True, ["warning: a.txt: no study items found"])
    assert html.index("no study items found") < html.index("12 abstracts")
    assert about_corpus_html("12 abstracts", True).count("warning") == 0
