"""The statement's real structure: items, references, footnotes, pages, verbatim passages."""

from __future__ import annotations

import pytest

from ketaqa.config import REPO_ROOT
from ketaqa.pipeline.documents.library import load_corpus
from ketaqa.pipeline.documents.passages import (
    MAX_WORDS,
    build_passages,
    split_sentences,
    word_count,
)
from ketaqa.pipeline.documents.structure import parse_document

CORPUS = REPO_ROOT / "corpus"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def outline(corpus):
    doc = next(d for d in corpus.documents if d.doc_id == "position-statement.txt")
    return parse_document(doc, corpus.references)


@pytest.fixture(scope="module")
def passages(corpus):
    return build_passages(corpus)


ITEMS = {
    "A-1": ["orhurhu2019"],
    "A-2": ["cohen2018"],
    "A-3": ["bell2018"],
    "B-1": ["maher2017"],
    "B-2": ["finnerup2015"],
    "C-1": ["noppers2010", "niesters2014"],
    "C-2": ["bell2009"],
    "C-3": ["visser2006"],
    "C-4": ["hocking2003"],
    "D-1": ["masaracchia2019"],
    "D-2": ["sheehy2015"],
}


@pytest.mark.parametrize("label, keys", ITEMS.items())
def test_every_item_links_to_its_reference(outline, label, keys):
    items = [b for b in outline.blocks if b.kind == "item" and b.path.parts[2].startswith(label)]
    assert items, f"{label} not found"
    assert sorted({k for b in items for k in b.reference_keys}) == sorted(keys)
    assert items[0].path.parts[0] == "Section I"


def test_a1_passage_carries_doi_and_pmid(corpus, passages):
    refs = {r.key: r for r in corpus.references}
    a1 = [p for p in passages if "A-1 Orhurhu 2019" in str(p.section)]
    assert a1 and all(p.reference_key == "orhurhu2019" for p in a1)
    assert refs["orhurhu2019"].doi == "10.1213/ANE.0000000000004185"
    assert refs["orhurhu2019"].pmid == "31082965"


GUIDELINE_QUESTIONS = ["(i)", "(ii)", "(iii)", "(iv)", "(vii)", "(viii)"]


@pytest.mark.parametrize("label", GUIDELINE_QUESTIONS)
def test_guideline_questions_sit_under_a2(passages, label):
    found = [p for p in passages if any(part.startswith(label + " ") for part in p.section.parts)]
    assert found
    assert all("A-2 Cohen 2018" in p.section.parts for p in found)
    assert all(p.reference_key == "cohen2018" for p in found)


def test_contraindications_path_reads_like_the_brief(passages):
    p = next(p for p in passages if "poorly controlled cardiovascular disease" in p.text)
    assert str(p.section) == (
        "Section I › A. Recent reviews › A-2 Cohen 2018 › (ii) contraindications"
    )


@pytest.mark.parametrize(
    "mark, referrer, footnote_words",
    [
        ("¹", "the definition of neuropathic pain was changed in 2011", "IASP taxonomy"),
        ("²", "A-2. Cohen SP et al.", "Note the caveat"),
        ("³", "Chronic neuropathic³ pain", "pre- or post-2011 definitions"),
        ("⁴", "(vii)⁴ What preemptive", "(v) and (vi)"),
    ],
)
def test_footnotes_attach_to_the_passage_that_refers_to_them(
    passages, mark, referrer, footnote_words
):
    p = next(p for p in passages if referrer in p.text)
    notes = {f.mark: f.text for f in p.footnotes}
    assert mark in notes and footnote_words in notes[mark]


def test_caveat_footnote_belongs_to_a2(passages):
    note = next(p for p in passages if p.kind == "footnote" and "caveat" in p.text)
    assert "A-2 Cohen 2018" in note.section.parts
    assert note.reference_key == "cohen2018"


def test_section_two_studies(passages):
    wanted = {
        "Bandschapp": "bandschapp2015",
        "Lumanauw": "lumanauw2019",
        "Kapural": "kapural2010",
        "Quinlan": "quinlan2012",
    }
    for name, key in wanted.items():
        found = [
            p for p in passages if p.section.parts[0] == "Section II" and p.reference_key == key
        ]
        assert found, name
        assert any(p.text.startswith(name) for p in found)


def test_definitions_dates_and_appendix(passages):
    by_text = {p.text.split(" –")[0]: p for p in passages}
    for term in ("POLICY", "POSITION STATEMENT", "GUIDELINE"):
        assert by_text[term].section.parts == ("Document information", "Definitions")
    dates = next(p for p in passages if p.text.startswith("Promulgated: 2016"))
    assert "Date of Current Document: April 2022" in dates.text
    mechanisms = {p.section.parts[1] for p in passages if p.section.parts[0] == "Appendix 1"}
    for number in ("1.", "2.", "3.", "4 (a)", "4 (b)", "5."):
        assert any(m.startswith(number) for m in mechanisms), number
    assert all(p.pages.label() == "p. 9" for p in passages if p.section.parts[0] == "Appendix 1")


def test_in_text_citations_link(passages):
    for mention, key in [
        ("[Visser & Schug, 2006]", "visser2006"),
        ("[Kissin et al. 2000]", "kissin2000"),
        ("[Niesters, 2013]", "niesters2014"),
    ]:
        p = next(p for p in passages if mention in p.text)
        assert key in p.reference_keys


def test_every_bibliography_entry_maps_to_exactly_one_record(corpus, outline):
    entries = [b for b in outline.blocks if b.kind == "entry"]
    keys = [b.reference_keys for b in entries]
    assert all(len(k) == 1 for k in keys), [b for b in entries if len(b.reference_keys) != 1]
    flat = [k[0] for k in keys]
    assert len(flat) == len(set(flat)), "two entries claim the same record"
    expected = {
        r.key for r in corpus.references if any(c.startswith("Bibliography") for c in r.cited_in)
    }
    assert set(flat) == expected
    assert not outline.problems


def test_pages_follow_the_contents_table(passages):
    pages = {p.section.parts[0]: p.pages.label() for p in passages}
    assert pages["Title"] == "p. 1"
    assert pages["Section I"] == "pp. 2–6"
    assert pages["Section II"] == "pp. 7–8"
    assert pages["Appendix 1"] == "p. 9"
    assert pages["Bibliography"] == "p. 10 ff."


def test_every_passage_is_a_verbatim_span(corpus, passages, statement_text):
    for p in passages:
        assert statement_text[p.start : p.end] == p.text
        assert p.text == p.text.strip() and p.text
        assert word_count(p.text) <= MAX_WORDS + 10


def test_passage_ids_unique_and_neighbours_linked(passages):
    ids = [p.id for p in passages]
    assert len(ids) == len(set(ids))
    for a, b in zip(passages, passages[1:], strict=False):
        assert a.next_id == b.id and b.prev_id == a.id


def test_the_whole_statement_is_covered(corpus, passages, statement_text, outline):
    """Every non-blank line is in a passage, or is a heading named in some section path."""
    covered = [False] * len(statement_text)
    for p in passages:
        covered[p.start : p.end] = [True] * (p.end - p.start)
    path_words = " ".join(part for p in passages for part in p.section.parts)
    pos = 0
    for line in statement_text.split("\n"):
        text = line.strip()
        if text and not any(covered[pos : pos + len(line)]):
            structural = text in path_words or text.rstrip(":") in path_words
            assert (
                structural
                or text
                in {
                    "LITERATURE REVIEW",
                    "Synopsis",
                    "PROPOSED MECHANISMS FOR THE ANALGESIC EFFECT OF KETAMINE",
                    "BIBLIOGRAPHY",
                }
                or text.startswith("Section I")
            ), f"line lost: {text!r}"
        pos += len(line) + 1


def test_split_sentences_keeps_abbreviations_together():
    text = "Cohen SP et al. reported it. Ketamine i.v. or s.c. was given. P = .213 was found."
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "Cohen SP et al. reported it.",
        "Ketamine i.v. or s.c. was given.",
        "P = .213 was found.",
    ]


def test_split_sentences_keeps_page_references_whole():
    text = (
        "“Overall, we conclude there is limited evidence (grade C).” (p. 537) "
        "Next sentence here. See the review (pp. 2–6). Last one."
    )
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "“Overall, we conclude there is limited evidence (grade C).” (p. 537)",
        "Next sentence here.",
        "See the review (pp. 2–6).",
        "Last one.",
    ]


def test_no_highlight_unit_of_the_statement_cuts_a_page_reference(statement_text):
    from ketaqa.pipeline.documents.passages import units

    for line in statement_text.splitlines():
        for s, e in units(line):
            assert not line[s:e].rstrip().endswith(("(p.", "(pp.")), line[s:e]
