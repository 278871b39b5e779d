"""Importing what clinicians export: MEDLINE/NBIB, RIS and PubMed XML, told apart by content.

No network, no model. Every fixture is SYNTHETIC text in the real formats' shapes.
"""

from __future__ import annotations

import shutil

import pytest
from fake_eutils import FIXTURES

from ketaqa.abstracts.entrez import parse_ecitmatch
from ketaqa.abstracts.formats import sniff, split_labelled
from ketaqa.abstracts.importer import import_path
from ketaqa.apps.cli import main
from ketaqa.errors import KetaqaError
from ketaqa.pipeline.documents.abstract_corpus import load_rendered
from ketaqa.pipeline.documents.corpus import load_references
from ketaqa.pipeline.documents.pubmed_xml import parse_article_set


def test_nbib_with_a_malformed_record_imports_the_others(corpus_dir):
    refs = load_references(corpus_dir / "references.json")
    report = import_path(corpus_dir, FIXTURES / "export.nbib", refs)
    # by DOI (LID/AID "[doi]"), by PMID, by title
    assert report.imported == ("lumanauw2019", "masaracchia2019", "tawfik2013")
    assert report.errors == (
        f"{FIXTURES / 'export.nbib'}: record 2 (PMID 90000012): line 3 is neither a MEDLINE "
        "tag ('TAG - ') nor a continuation (six spaces): "
        "'this line is neither a tag nor a continu'",
    )
    rendered = {r.key: r for r in load_rendered(corpus_dir)}
    luma = rendered["lumanauw2019"]
    assert [label for label, _, _ in luma.sections] == [
        "BACKGROUND",
        "METHODS",
        "RESULTS",
        "CONCLUSIONS",
    ]
    # Continuation lines join with one space; the labelled text is verbatim otherwise.
    assert (
        "RESULTS: The invented lamp count rose by 5 units in this fabricated result." in luma.text
    )
    assert "copyright" not in luma.text.lower()
    assert luma.record.pmid == "90000003" and luma.record.doi == "10.1111/acem.13755"
    assert rendered["masaracchia2019"].sections[0][0] is None  # unstructured


def test_ris_with_a_malformed_record_imports_the_others(corpus_dir):
    refs = load_references(corpus_dir / "references.json")
    report = import_path(corpus_dir, FIXTURES / "export.ris", refs)
    assert report.imported == ("bell1999", "marchetti2015")
    assert len(report.unmatched) == 1 and "matches no reference" in report.unmatched[0]
    (error,) = report.errors
    assert "export.ris: record 2 ('[SYNTHETIC] A malformed record" in error
    assert "line 3 is not a RIS tag line" in error
    rendered = {r.key: r for r in load_rendered(corpus_dir)}
    assert rendered["marchetti2015"].record.pmid == "90000041"  # AN with DB PubMed
    assert [label for label, _, _ in rendered["bell1999"].sections] == ["PURPOSE", "RESULTS"]


def test_format_comes_from_content_not_extension(corpus_dir, tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    shutil.copy(FIXTURES / "export.nbib", folder / "pubmed-saved.txt")
    shutil.copy(FIXTURES / "export.ris", folder / "citations.xml")
    shutil.copy(FIXTURES / "import_set.xml", folder / "export.ris")
    (folder / "notes.md").write_text("# not an export\n")
    refs = load_references(corpus_dir / "references.json")
    report = import_path(corpus_dir, folder, refs)
    assert set(report.imported) >= {"bell1999", "lumanauw2019", "marchetti2015", "tawfik2013"}
    assert any("notes.md: not a PubMed XML, MEDLINE/NBIB or RIS export" in e for e in report.errors)
    assert sniff(b"\xef\xbb\xbf\r\nPMID- 1\n", "x") == "MEDLINE/NBIB"
    assert sniff(b"\nTY  - JOUR\n", "x") == "RIS"
    assert sniff(b"  <?xml version='1.0'?><PubmedArticleSet/>", "x") == "PubMed XML"


def test_cli_import_names_bad_records_and_exits_non_zero(corpus_dir, monkeypatch, capsys):
    monkeypatch.setenv("KETAQA_CORPUS_DIR", str(corpus_dir))
    assert main(["abstracts", "import", str(FIXTURES / "export.nbib")]) == 1
    out, err = capsys.readouterr()
    assert "imported 3, no abstract 0, unmatched 0, malformed 1" in out
    assert "skipped: " in err and "record 2 (PMID 90000012)" in err
    assert (corpus_dir / "abstracts" / "lumanauw2019.xml").exists()


def test_xml_shapes_of_the_pubmed_dtd():
    records = parse_article_set((FIXTURES / "first_run_batch.xml").read_bytes(), "fixture")
    assert [r.pmid for r in records] == ["31082965", "90000021", "90000022"]  # no deletion
    first = records[0]
    assert [s.label for s in first.sections] == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert "(I2 = 0%, fabricated)" in first.sections[1].text  # <sup>, <i> flattened
    assert all("copyright" not in s.text.lower() for s in first.sections)
    book = records[2]
    assert book.title.startswith("[SYNTHETIC] An invented chapter") and book.has_abstract


def test_xml_with_entity_expansion_is_refused(tmp_path):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><PubmedArticleSet>&b;</PubmedArticleSet>'
    )
    with pytest.raises(KetaqaError, match=r"bomb\.xml: refused unsafe XML"):
        parse_article_set(bomb, "bomb.xml")


def test_ecitmatch_answers_and_labels():
    text = (
        "scand j pain|2015|7|42|bandschapp o|bandschapp2015|90000021\n"
        "pain|2005|113|61|elia n|elia2005|NOT_FOUND;INVALID_JOURNAL\n"
        "pain|1999|83|101|bell rf|bell1999|AMBIGUOUS 1,2\n"
    )
    assert parse_ecitmatch(text) == {
        "bandschapp2015": "90000021",
        "elia2005": "NOT_FOUND;INVALID_JOURNAL",
        "bell1999": "AMBIGUOUS 1,2",
    }
    assert split_labelled("Plain text: with a colon.") == [(None, "Plain text: with a colon.")]
    assert split_labelled("AIMS: one. MAIN RESULTS: two (95% CI: 1 to 2).") == [
        ("AIMS", "one."),
        ("MAIN RESULTS", "two (95% CI: 1 to 2)."),
    ]
