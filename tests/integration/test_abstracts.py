"""Cited abstracts: E-utilities client, cache, import, status and passages.

No network and no model: a real HTTP server on 127.0.0.1 serves SYNTHETIC E-utilities answers
built from tests/fixtures/synthetic_pubmed/ (made-up text, never real abstracts).
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_eutils import FakeEutils, Reply, serve

from ketaqa.abstracts.entrez import EntrezClient, EutilsConfig
from ketaqa.abstracts.fetch import fetch
from ketaqa.abstracts.importer import import_path
from ketaqa.abstracts.resolve import title_search_term
from ketaqa.abstracts.status import NO_ABSTRACT_KINDS, status
from ketaqa.apps.abstracts_command import cmd_abstracts
from ketaqa.apps.cli import build_parser
from ketaqa.errors import KetaqaError
from ketaqa.pipeline.documents.abstract_corpus import (
    abstract_documents,
    abstract_files,
    abstract_passages,
    cached_ids,
    load_rendered,
    with_cached_ids,
)
from ketaqa.pipeline.documents.corpus import Reference, load_references
from ketaqa.pipeline.documents.passages import MAX_WORDS, word_count
from ketaqa.pipeline.documents.pubmed_xml import parse_article_set

ROOT = Path(__file__).resolve().parents[2]
REFERENCES = ROOT / "corpus" / "references.json"
FIXTURES = ROOT / "tests" / "fixtures" / "synthetic_pubmed"
FAST = {"backoff": 0.01, "max_retries": 1, "timeout": 5.0}  # keep retries quick in tests


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeEutils, str]]:
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    fake = FakeEutils()
    with serve(fake) as url:
        yield fake, url


def refs(corpus_dir: Path, *keys: str) -> tuple[Reference, ...]:
    by_key = {r.key: r for r in load_references(corpus_dir / "references.json")}
    return tuple(by_key[k] for k in keys)


def cache_contents(corpus_dir: Path) -> list[str]:
    folder = corpus_dir / "abstracts"
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name != "resolution.json")


# ---------------------------------------------------------------------------------------------
# fetch


def test_fetch_resolves_batches_and_reports(server, corpus_dir):
    fake, url = server
    chosen = refs(
        corpus_dir,
        "orhurhu2019",
        "finnerup2015",
        "michelet2018",
        "bandschapp2015",
        "bell2006",
        "elia2005",
        "chizh2007",
        "bell2010",
        "bendavid2009",
        "bell2009",
    )
    by_key = {r.key: r for r in chosen}
    fake.searches = {
        '"10.1016/j.sjpain.2014.12.005"[doi]': ["90000001"],
        title_search_term(by_key["bell2006"]): ["90000002"],
        title_search_term(by_key["elia2005"]): ["90000007", "90000008"],
    }
    fake.citations = {"chizh2007": "AMBIGUOUS 90000030,90000031"}
    report = fetch(corpus_dir, chosen, "dev@example.org", None, url, batch_size=2, **FAST)

    assert report.fetched == ("bandschapp2015", "bell2006", "orhurhu2019")
    assert report.cached == ()
    reasons = {m.key: m.reason for m in report.missing}
    assert reasons["chizh2007"] == (
        "ECitMatch: AMBIGUOUS 90000030,90000031; title: no PubMed record"
    )
    assert reasons["elia2005"] == "ECitMatch: NOT_FOUND; title: ambiguous, 2 records"
    assert reasons["finnerup2015"] == "no abstract in PubMed record 25575710"
    assert reasons["michelet2018"] == "PMID 29178663 not in NCBI's answer"
    skipped = {m.key: m.reason for m in report.skipped}
    assert skipped["bell2010"].startswith("commentary")
    assert skipped["bendavid2009"].startswith("letter")
    assert "has_abstract" in skipped["bell2009"]
    assert cache_contents(corpus_dir) == ["bandschapp2015.xml", "bell2006.xml", "orhurhu2019.xml"]

    # Every request names the tool and the contact; efetch asks for abstracts as XML in batches.
    assert all(
        p["tool"] == "ketaqa" and p["email"] == "dev@example.org" for _, _, p in fake.requests
    )
    efetches = fake.of("efetch.fcgi")
    assert [len(p["id"].split(",")) for p in efetches] == [2, 2, 1]
    assert all(
        p["db"] == "pubmed" and p["rettype"] == "abstract" and p["retmode"] == "xml"
        for p in efetches
    )
    # bandschapp2015 was found by DOI, so no title search was needed for it.
    assert not any("Bandschapp[au]" in p["term"] for p in fake.of("esearch.fcgi"))
    # One ECitMatch request for every reference without a PMID, in NCBI's pipe format.
    (citmatch,) = fake.of("ecitmatch.cgi")
    lines = citmatch["bdata"].split("\r")
    assert "j psychopharmacol|2007|21|259|chizh ba|chizh2007|" in lines
    assert "scand j pain|2015|7|42|bandschapp o|bandschapp2015|" in lines
    assert len(lines) == 3  # not bell2006: a Cochrane review has no volume and first page
    # No API key: never more than 3 requests in any one second (8 requests were made).
    assert len(fake.requests) == 8
    assert fake.max_per_second() <= 3

    # A second run fetches nothing already cached.
    again = fetch(corpus_dir, chosen, "dev@example.org", None, url, **FAST)
    assert again.cached == ("bandschapp2015", "bell2006", "orhurhu2019")
    assert again.fetched == ()
    assert len(fake.of("efetch.fcgi")) == 4  # one more, for finnerup2015 and michelet2018


def test_api_key_allows_ten_requests_per_second(server):
    fake, url = server
    client = EntrezClient(EutilsConfig(base_url=url, api_key="synthetic-key", timeout=5.0))
    for _ in range(14):
        client.esearch("x")
    assert 3 < fake.max_per_second() <= 10
    assert all(p["api_key"] == "synthetic-key" for _, _, p in fake.requests)


def test_retry_after_is_honoured(server, corpus_dir):
    fake, url = server
    fake.queued["efetch.fcgi"] = [Reply(429, b"slow down", {"Retry-After": "1"})]
    report = fetch(corpus_dir, refs(corpus_dir, "orhurhu2019"), None, None, url, **FAST)
    assert report.fetched == ("orhurhu2019",)
    times = [t for t, e, _ in fake.requests if e == "efetch.fcgi"]
    assert len(times) == 2
    assert times[1] - times[0] >= 0.9  # waited Retry-After, not the 0.01 s backoff


def test_server_errors_are_retried_then_reported(server, corpus_dir):
    fake, url = server
    fake.queued["efetch.fcgi"] = [Reply(503), Reply(500)]
    report = fetch(corpus_dir, refs(corpus_dir, "orhurhu2019"), None, None, url, **FAST)
    assert [(m.key, m.reason) for m in report.missing] == [("orhurhu2019", "HTTP error 500")]
    assert len(fake.of("efetch.fcgi")) == 2
    assert cache_contents(corpus_dir) == []


def test_malformed_answer_writes_nothing(server, corpus_dir):
    fake, url = server
    fake.queued["efetch.fcgi"] = [Reply(body=(FIXTURES / "malformed.xml").read_bytes())]
    report = fetch(corpus_dir, refs(corpus_dir, "orhurhu2019"), None, None, url, **FAST)
    assert report.fetched == ()
    assert report.missing[0].reason.startswith("malformed XML from NCBI")
    assert cache_contents(corpus_dir) == []


def test_timeout_is_a_clear_error(server, corpus_dir):
    fake, url = server
    fake.queued["efetch.fcgi"] = [Reply(delay=1.0), Reply(delay=1.0)]
    options = {**FAST, "timeout": 0.5}
    with pytest.raises(
        KetaqaError,
        match=r"cannot reach NCBI E-utilities at http://127\.0\.0\.1"
        r".*timed out after 0\.5 s \(2 attempts\)",
    ):
        fetch(corpus_dir, refs(corpus_dir, "orhurhu2019"), None, None, url, **options)
    assert cache_contents(corpus_dir) == []


def test_no_network_is_a_clear_error(corpus_dir, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    url = f"http://127.0.0.1:{port}/entrez/eutils/"
    with pytest.raises(KetaqaError, match=r"^cannot reach NCBI E-utilities at http://127"):
        fetch(corpus_dir, refs(corpus_dir, "orhurhu2019"), None, None, url, **FAST)
    assert cache_contents(corpus_dir) == []


# ---------------------------------------------------------------------------------------------
# Parsing and passages


def test_parse_keeps_own_ids_and_flattens_markup():
    records = parse_article_set((FIXTURES / "efetch_batch.xml").read_bytes(), "fixture")
    first = records[0]
    assert first.pmid == "31082965"
    assert first.doi == "10.1213/ane.0000000000004185"  # not the cited work's DOI
    assert [s.label for s in first.sections] == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert "with imaginary cohorts" in first.sections[1].text
    assert all("copyright" not in s.text for s in first.sections)
    assert not records[3].has_abstract
    # The cached XML is a set holding just this article, and parses back to the same record.
    again = parse_article_set(first.xml, "cache")
    assert len(again) == 1 and again[0].sections == first.sections


def test_import_then_passages_end_to_end(corpus_dir):
    references = load_references(corpus_dir / "references.json")
    report = import_path(corpus_dir, FIXTURES / "import_set.xml", references)
    assert report.imported == ("lumanauw2019", "masaracchia2019", "tawfik2013")
    assert report.no_abstract == ("persson2010",)
    assert len(report.unmatched) == 1 and "PMID 90000009" in report.unmatched[0]
    assert [p.name for p in abstract_files(corpus_dir)] == [
        "lumanauw2019.xml",
        "masaracchia2019.xml",
        "tawfik2013.xml",
    ]

    passages = abstract_passages(corpus_dir, references)
    rendered = {r.doc_id: r.text for r in load_rendered(corpus_dir)}
    documents = {d.doc_id: d for d in abstract_documents(corpus_dir)}
    assert [p.reference_key for p in passages] == sorted(p.reference_key for p in passages)
    for p in passages:
        assert (
            p.text
            == rendered[p.doc_id][p.start : p.end]
            == documents[p.doc_id].text[p.start : p.end]
        )
        assert p.id == f"{p.doc_id.removesuffix('.xml')}:{p.start}-{p.end}"
        assert (p.source, p.kind, p.pages.first, p.pages.last) == (
            "abstract",
            "abstract",
            None,
            None,
        )
        assert p.reference_keys == (p.doc_id.split("/")[1].removesuffix(".xml"),)

    masa = [p for p in passages if p.reference_key == "masaracchia2019"]
    results = [p for p in masa if p.section.parts == ("Masaracchia 2019", "Abstract", "RESULTS")]
    assert len(results) > 1  # a long section is split into sentence groups
    assert all(word_count(p.text) <= MAX_WORDS for p in results)
    assert not any(p.text.startswith("RESULTS") for p in masa)  # labels live in the section
    assert results[0].text.startswith("Invented finding number 1 ")
    assert rendered["abstracts/masaracchia2019.xml"].startswith("BACKGROUND: Invented background")
    # Neighbours are linked within each abstract, not across abstracts.
    assert masa[0].prev_id is None and masa[-1].next_id is None
    assert all(a.next_id == b.id and b.prev_id == a.id for a, b in itertools.pairwise(masa))

    luma = [p for p in passages if p.reference_key == "lumanauw2019"]
    assert [p.section.parts for p in luma] == [("Lumanauw 2019", "Abstract")]
    tawfik = [p for p in passages if p.reference_key == "tawfik2013"]
    assert tawfik[0].section.parts == ("Tawfik 2013", "Abstract", "PURPOSE")

    ids = cached_ids(corpus_dir)
    assert ids["lumanauw2019"] == {"pmid": "90000003", "doi": "10.1111/acem.13755"}
    merged = {r.key: r for r in with_cached_ids(references, corpus_dir)}
    assert merged["lumanauw2019"].pmid == "90000003"
    assert merged["masaracchia2019"].doi == "10.1111/aas.13429"  # references.json kept


def test_import_folder_with_malformed_file_imports_the_rest(corpus_dir, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(FIXTURES / "import_set.xml", folder / "a.xml")
    shutil.copy(FIXTURES / "malformed.xml", folder / "b.xml")
    references = load_references(corpus_dir / "references.json")
    report = import_path(corpus_dir, folder, references)
    assert report.imported == ("lumanauw2019", "masaracchia2019", "tawfik2013")
    assert len(report.errors) == 1 and "b.xml: malformed XML" in report.errors[0]
    # Alone, the malformed file imports nothing and says why.
    with pytest.raises(KetaqaError, match=r"nothing imported: .*b\.xml: malformed XML"):
        import_path(corpus_dir, folder / "b.xml", references)


def test_import_rejects_other_xml(corpus_dir, tmp_path):
    other = tmp_path / "other.xml"
    other.write_text("<html><body>not pubmed</body></html>")
    with pytest.raises(KetaqaError, match=r"other\.xml: not PubMed XML \(root element <html>"):
        import_path(corpus_dir, other, ())


def test_corrupt_cache_file_is_skipped_with_warning(corpus_dir, caplog):
    references = load_references(corpus_dir / "references.json")
    import_path(corpus_dir, FIXTURES / "import_set.xml", references)
    shutil.copy(FIXTURES / "malformed.xml", corpus_dir / "abstracts" / "orhurhu2019.xml")
    with caplog.at_level(logging.WARNING, logger="ketaqa.pipeline.documents.abstract_corpus"):
        passages = abstract_passages(corpus_dir, references)
    assert "orhurhu2019.xml" in caplog.text
    assert {p.reference_key for p in passages} == {"lumanauw2019", "masaracchia2019", "tawfik2013"}
    assert "orhurhu2019.xml" in status(corpus_dir, references).unreadable


def test_no_cache_means_no_passages(corpus_dir):
    assert abstract_files(corpus_dir) == []
    assert abstract_passages(corpus_dir, load_references(corpus_dir / "references.json")) == []


# ---------------------------------------------------------------------------------------------
# Status and references.json


def test_references_json_cross_checks():
    references = load_references(REFERENCES)
    keys = [r.key for r in references]
    assert len(keys) == len(set(keys))
    for ref in references:
        if ref.has_abstract and ref.kind == "article":
            assert ref.key and ref.key.replace("_", "").isalnum(), ref
            assert ref.title and ref.year, ref.key
        if ref.kind in NO_ABSTRACT_KINDS:
            assert not ref.has_abstract, f"{ref.key}: a {ref.kind} marked has_abstract"


def test_status_classifies_none_by_nature(corpus_dir):
    references = load_references(corpus_dir / "references.json")
    import_path(corpus_dir, FIXTURES / "import_set.xml", references)
    st = status(corpus_dir, references)
    assert st.loaded == ("lumanauw2019", "masaracchia2019", "tawfik2013")
    nature = {m.key: m.reason for m in st.none_by_nature}
    for ref in references:
        if ref.kind in ("letter", "commentary", "book", "report", "placeholder"):
            assert nature[ref.key].startswith(ref.kind), ref.key
    assert "has_abstract" in nature["bell2009"]
    should = [r.key for r in references if r.has_abstract and r.kind == "article"]
    assert sorted(st.loaded + st.missing) == sorted(should)
    assert not set(st.missing) & set(nature)


def test_cli_status_and_import(corpus_dir, monkeypatch, capsys):
    monkeypatch.setenv("KETAQA_CORPUS_DIR", str(corpus_dir))
    parser = build_parser()
    messages: list[str] = []

    args = parser.parse_args(["abstracts", "import", str(FIXTURES / "import_set.xml")])
    assert cmd_abstracts(args, messages.append) == 0
    assert "imported 3, no abstract 1, unmatched 1" in capsys.readouterr().out

    args = parser.parse_args(["abstracts", "status"])
    assert cmd_abstracts(args, messages.append) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 of 46 abstracts loaded")
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert rows["bendavid2009"].split(None, 1)[1].startswith("none by nature")
    assert rows["bendavid2009"].endswith("letter: no abstract by nature")
    assert rows["schug2020"].endswith("book: no abstract by nature")
    assert rows["lumanauw2019"].split()[1:5] == ["loaded", "90000003", "import", "import"]
    assert "(DOI) from import_set.xml" in rows["lumanauw2019"]
    assert rows["zhou2011"].split()[1:4] == ["missing", "21686074", "references.json"]


@pytest.mark.slow
def test_import_index_ask_end_to_end(fresh_settings, encoder, monkeypatch, capsys):
    """import -> index -> `ketaqa ask --json` returns the abstract passage with its PMID,
    citation and section label (synthetic fixture text, never a real abstract)."""
    from ketaqa.apps.cli import main

    monkeypatch.setenv("KETAQA_CORPUS_DIR", str(fresh_settings.corpus_dir))
    monkeypatch.setenv("KETAQA_INDEX_DIR", str(fresh_settings.index_dir))
    monkeypatch.setenv("KETAQA_DATA_DIR", str(fresh_settings.data_dir))
    assert main(["abstracts", "import", str(FIXTURES / "import_set.xml")]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "ask",
                "How many imaginary blue test devices did invented finding 14 concern?",
                "--json",
                "--top-k",
                "3",
            ]
        )
        == 0
    )
    answer = json.loads(capsys.readouterr().out)
    top = answer["passages"][0]
    assert "abstract" in top["source"]
    assert top["pmid"] == "31313291" and top["reference_key"] == "masaracchia2019"
    assert top["citation"].startswith("Masaracchia MM")
    assert top["section"] == "Masaracchia 2019 › Abstract › RESULTS"
    assert "Invented finding number 14 concerned 42" in top["text"]
