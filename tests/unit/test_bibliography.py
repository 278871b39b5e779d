"""Citations without hand-made links: a document's bibliography parsed into reference records,
references.json over them as the reviewed overlay, and a second, synthetic statement (another,
invented drug, no references.json) whose items and mentions link to its own entries."""

from __future__ import annotations

import json
import shutil

import pytest
from document_fixtures import SYNTHETIC_STATEMENT

from ketaqa.config import REPO_ROOT
from ketaqa.pipeline.documents.bibliography import overlay, parse_entry
from ketaqa.pipeline.documents.corpus import Reference, load_references
from ketaqa.pipeline.documents.library import load_corpus
from ketaqa.pipeline.documents.passages import build_passages
from ketaqa.pipeline.documents.structure import parse_document
from ketaqa.pipeline.documents.structure_report import report, structure_counts

REAL = REPO_ROOT / "corpus"
OWN_KEYS = (
    "alder2019",
    "alder2019b",
    "dunmore2020",
    "fenwick2022",
    "hartwell2021",
    "vanderlinde2018",
)


def test_an_entry_is_read_into_its_printed_fields():
    entry = (
        "Dunmore S, Ellery T. Oral zelorafine in diabetic neuropathy: an invented cohort. "
        "*Made-up Pain Medicine* 2020;11(2):33-41. doi:10.5555/synth.2020.011. PMID: 99999901."
    )
    assert parse_entry(entry) == {
        "authors": "Dunmore S, Ellery T",
        "title": "Oral zelorafine in diabetic neuropathy: an invented cohort",
        "journal": "Made-up Pain Medicine",
        "year": 2020,
        "volume_pages": "11(2):33-41",
        "doi": "10.5555/synth.2020.011",
        "pmid": "99999901",
    }
    # a journal on its own line, particles and "et al." in author lists
    broken = parse_entry("Quill A, van der Rook B. Invented risks\nSynth J Pain 2013; 77:357–367.")
    assert broken["authors"] == "Quill A, van der Rook B"
    assert (broken["title"], broken["journal"]) == ("Invented risks", "Synth J Pain")
    assert parse_entry("Moss N et al., A long invented title. *Synth Rev* 2018; 43:1-2")[
        "authors"
    ] == ("Moss N et al.")


def test_the_real_bibliography_keeps_its_reviewed_keys():
    """Every printed entry of the statement is matched to its reviewed record: no key is
    generated, the references are the reviewed ones in their order, and the printed fields
    agree with the reviewed ones where the reviewed file made no correction."""
    corpus = load_corpus(REAL)
    reviewed = load_references(REAL / "references.json")
    assert [r.key for r in corpus.references] == [r.key for r in reviewed]
    ((doc_id, printed),) = corpus.bibliographies
    assert doc_id == "position-statement.txt" and len(printed) == 53
    assert set(printed) <= corpus.reviewed
    doc = corpus.documents[0]
    entries = [b for b in parse_document(doc, corpus.references).blocks if b.kind == "entry"]
    parsed = {b.reference_keys[0]: parse_entry(doc.text[b.start : b.end]) for b in entries}
    same_year = sum(parsed[r.key]["year"] == r.year for r in reviewed if r.key in parsed)
    same_author = sum(
        parsed[r.key]["authors"].split(" ")[0] == r.authors.split(" ")[0]
        for r in reviewed
        if r.key in parsed
    )
    assert same_year >= 51 and same_author >= 50  # the rest are the reviewed file's corrections


def test_the_reviewed_record_wins_field_by_field():
    reviewed = Reference("k", "Dunmore S", "Corrected title", "", 2020, citation_note="note")
    parsed = Reference(
        "", "Dunmore S, Ellery T", "Printed title", "Printed J", 2020, "1:2", "d", "9"
    )
    merged = overlay(reviewed, parsed)
    assert (merged.key, merged.authors, merged.title) == ("k", "Dunmore S", "Corrected title")
    assert (merged.journal, merged.volume_pages, merged.doi, merged.pmid) == (
        "Printed J",
        "1:2",
        "d",
        "9",
    )
    assert merged.citation_note == "note"


@pytest.fixture(scope="module")
def synthetic(synthetic_corpus):
    corpus = load_corpus(synthetic_corpus)
    (doc,) = corpus.documents
    return corpus, doc, parse_document(doc, corpus.references_for(doc.doc_id))


def test_a_synthetic_statement_parses_into_its_structure(synthetic):
    corpus, _doc, outline = synthetic
    assert not corpus.reviewed  # no references.json: every record is parsed from the text
    sections = {b.path.parts[0] for b in outline.blocks}
    assert sections == {
        "Title", "Epigraph", "Contents", "Section I", "Section II",
        "Document information", "Appendix 1", "Bibliography",
    }  # fmt: skip
    items = {b.path.parts[2]: b.reference_keys for b in outline.blocks if b.kind == "item"}
    assert items == {
        "A-1 Alder 2019": ("alder2019",),
        "A-2 Dunmore 2020": ("dunmore2020",),
        "B-1 Fenwick 2022": ("fenwick2022",),
        "Hartwell 2021": ("hartwell2021",),  # Section II › Perioperative use › its study
    }
    dates = [b for b in outline.blocks if b.path.parts[-1] == "Dates"]
    assert len(dates) == 1 and "Date of Current Document: May 2024" in _text(synthetic, dates[0])
    footnote = next(b for b in outline.blocks if b.kind == "footnote")
    assert footnote.path.parts[:2] == ("Section I", "Footnote 1")
    assert {b.path.parts[1] for b in outline.blocks if b.path.parts[0] == "Appendix 1"} == {
        "1. Block of an invented ion channel"
    }
    assert {b.pages.first for b in outline.blocks if b.path.parts[0] == "Section II"} == {4}


def _text(synthetic, block) -> str:
    return synthetic[1].text[block.start : block.end]


def test_its_citations_link_to_its_own_parsed_bibliography(synthetic):
    corpus, _doc, outline = synthetic
    entries = [b for b in outline.blocks if b.kind == "entry"]
    assert [b.reference_keys for b in entries] == [(k,) for k in OWN_KEYS]
    dunmore = corpus.reference("dunmore2020")
    assert (dunmore.journal, dunmore.volume_pages, dunmore.pmid) == (
        "Made-up Pain Medicine",
        "11(2):33-41",
        "99999901",
    )
    mention = next(b for b in outline.blocks if "[Dunmore & Ellery, 2020]" in _text(synthetic, b))
    assert mention.reference_keys == ("alder2019", "dunmore2020")
    epigraph = next(b for b in outline.blocks if b.kind == "epigraph")
    assert epigraph.reference_keys == ("alder2019",)
    assert outline.problems == ("unlinked mention [Quill & Rook, 2017]",)
    counts = structure_counts(outline)
    assert (counts.items, counts.entries, counts.entries_linked, counts.unlinked) == (4, 6, 6, 1)
    passages = build_passages(corpus)
    assert {k for p in passages for k in p.reference_keys} == set(OWN_KEYS)


def test_references_json_overlays_a_new_documents_entries(tmp_path):
    """A reviewed record for one entry of the synthetic statement: its key and corrections
    win, the printed DOI/PMID fill what it lacks; the other entries keep generated keys."""
    (tmp_path / "zelorafine.txt").write_text(SYNTHETIC_STATEMENT, encoding="utf-8")
    record = {
        "key": "dunmore_cohort",
        "authors": "Dunmore S, Ellery T",
        "title": "Oral zelorafine in diabetic neuropathy: an invented cohort",
        "journal": "Made-up Pain Med",
        "year": 2020,
        "pmid": None,
        "citation_note": "Synthetic note: the journal abbreviation is the reviewed one.",
        "cited_in": ["A-2"],
    }
    (tmp_path / "references.json").write_text(json.dumps([record]), encoding="utf-8")
    corpus = load_corpus(tmp_path)
    merged = corpus.reference("dunmore_cohort")
    assert merged.journal == "Made-up Pain Med" and merged.citation_note
    assert (merged.pmid, merged.doi) == ("99999901", "10.5555/synth.2020.011")
    assert corpus.reference("dunmore2020") is None and corpus.reference("alder2019b")
    outline = parse_document(corpus.documents[0], corpus.references_for("zelorafine.txt"))
    a2 = [b for b in outline.blocks if b.kind == "item" and b.path.parts[2].startswith("A-2")]
    assert a2[0].reference_keys == ("dunmore_cohort",)


def test_two_documents_keep_their_own_citations(tmp_path, synthetic_corpus):
    """The real statement beside the synthetic one: the real passages are exactly those of the
    real corpus alone, and neither document cites the other's entries (both have an "A-1")."""
    for name in ("position-statement.txt", "references.json"):
        shutil.copy(REAL / name, tmp_path / name)
    shutil.copy(synthetic_corpus / "zelorafine-statement.txt", tmp_path / "zelorafine.txt")
    both = build_passages(load_corpus(tmp_path))
    alone = build_passages(load_corpus(REAL))
    real = [p for p in both if p.doc_id == "position-statement.txt"]
    assert [(p.id, p.section, p.pages, p.reference_keys) for p in real] == [
        (p.id, p.section, p.pages, p.reference_keys) for p in alone
    ]
    synthetic_keys = {k for p in both if p.doc_id == "zelorafine.txt" for k in p.reference_keys}
    assert synthetic_keys == set(OWN_KEYS)


def test_index_warns_when_a_new_version_parses_into_much_less(tmp_path, synthetic):
    _corpus, doc, outline = synthetic
    first = report(tmp_path, {doc.doc_id: structure_counts(outline)})
    assert first == [structure_counts(outline).line(doc.doc_id)]
    # a revision whose item labels the parser no longer reads ("A-1." printed as "A1)")
    broken = SYNTHETIC_STATEMENT
    for label in ("A-1", "A-2", "B-1"):
        broken = broken.replace(f"\n{label}. ", f"\n{label.replace('-', '')}) ")
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / doc.doc_id).write_text(broken, encoding="utf-8")
    revised = load_corpus(tmp_path / "corpus")
    counts = structure_counts(parse_document(revised.documents[0], revised.references))
    lines = report(tmp_path, {doc.doc_id: counts})
    assert len(lines) == 2 and lines[1].startswith("warning: zelorafine-statement.txt")
    assert "items 4 → 1" in lines[1]
    # a build that warned never becomes the yardstick: running again warns again
    assert report(tmp_path, {doc.doc_id: counts}) == lines
    (tmp_path / "structure.json").write_text("{not json", encoding="utf-8")
    assert len(report(tmp_path, {doc.doc_id: counts})) == 1  # unreadable memory: no warning


def test_ketaqa_index_prints_the_report_and_the_warning(tmp_path, capsys):
    """The report as `ketaqa index` prints it (no model needed): a line per document, then the
    warning after a revision loses its sub-headings and items."""
    from ketaqa.apps.cli import _structure_report

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "zelorafine.txt").write_text(SYNTHETIC_STATEMENT, encoding="utf-8")
    _structure_report(corpus, index)
    err = capsys.readouterr().err
    assert "zelorafine.txt: 8 sections, 4 items, 6 bibliography entries (6 linked)" in err
    assert "warning" not in err
    broken = SYNTHETIC_STATEMENT.replace("\nA-", "\nA.").replace("\nB-1.", "\nB.1")
    (corpus / "zelorafine.txt").write_text(broken, encoding="utf-8")
    _structure_report(corpus, index)
    err = capsys.readouterr().err
    assert "warning: zelorafine.txt parsed into much less structure than the last good" in err
    assert (index / "structure.json").exists()


def test_without_references_json_the_statement_links_or_reports_never_misattributes(tmp_path):
    """The real statement alone: every item heading links to a parsed entry by its own first
    author, or is reported unlinked (Section II studies the bibliography does not print, a
    misspelt author); none borrows another study's record."""
    shutil.copy(REAL / "position-statement.txt", tmp_path / "position-statement.txt")
    corpus = load_corpus(tmp_path)
    (doc,) = corpus.documents
    outline = parse_document(doc, corpus.references_for(doc.doc_id))
    items = [b for b in outline.blocks if b.kind == "item"]
    linked = [b for b in items if b.reference_keys]
    for block in linked:
        (ref,) = [corpus.reference(k) for k in block.reference_keys]
        assert ref.first_author_surname.split()[0] in doc.text[block.start : block.end]
    assert len(linked) >= 11 and len(items) - len(linked) == 5
    assert sum(p.startswith("no reference record") for p in outline.problems) == 5
    assert all(len(b.reference_keys) == 1 for b in outline.blocks if b.kind == "entry")
