"""Issue #16, inputs and front ends: bounded question files (F1), oversized and deeply nested
PubMed XML (F2, F3), one-line folder errors (F5), API argument types (F9), temporary folders
(F8), login throttling (F11), terminal-safe output. No model; no network; loops are bounded.

PubMed records here are SYNTHETIC (made-up text), matched to real reference keys by PMID.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import gradio as gr
import pytest

from ketaqa import teaching
from ketaqa.abstracts.importer import import_path
from ketaqa.apps.checks import describe_os_error
from ketaqa.apps.cli import main, read_questions
from ketaqa.apps.ui.api import Api
from ketaqa.apps.ui.guard import (
    CLIENT_ADDRESS,
    ClientAddress,
    LoginThrottle,
    TempFolders,
    auth_function,
    new_save_token,
    remove_stale_roots,
    save_request_id,
    sweep_old_files,
)
from ketaqa.config import Settings
from ketaqa.errors import InputError
from ketaqa.pipeline.documents.abstract_corpus import cache_path, load_rendered
from ketaqa.pipeline.documents.corpus import load_references
from ketaqa.pipeline.documents.pubmed_xml import (
    MAX_ABSTRACT_CHARS,
    PubmedXMLError,
    parse_article_set,
)
from ketaqa.text import json_terminal_safe, terminal_safe


def article(pmid: str, abstract: str) -> str:
    return (
        f"<PubmedArticle><MedlineCitation><PMID>{pmid}</PMID><Article>"
        f"<ArticleTitle>Synthetic title {pmid}</ArticleTitle><Abstract>"
        f"<AbstractText>{abstract}</AbstractText></Abstract></Article></MedlineCitation>"
        "</PubmedArticle>"
    )


def article_set(*articles: str) -> bytes:
    return ("<PubmedArticleSet>" + "".join(articles) + "</PubmedArticleSet>").encode()


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("ketaqa: error:")]
    assert len(lines) == 1, err
    return lines[0]


# -- F1: the question file -------------------------------------------------------------------------


def test_question_file_must_be_a_regular_file():
    with pytest.raises(InputError, match="not a regular file"):
        read_questions(Path("/dev/zero"))  # before: read until the kernel killed it


def test_question_file_is_bounded(tmp_path):
    big = tmp_path / "q.txt"
    big.write_bytes(b"Which patients benefit?\n" * 1000)
    assert len(read_questions(big, limit=100_000)) == 1000
    with pytest.raises(InputError, match="larger than"):
        read_questions(big, limit=10_000)


def test_cli_ask_dev_zero_is_one_line(capsys):
    assert main(["ask", "--file", "/dev/zero", "--json"]) == 2
    assert "not a regular file" in one_line_error(capsys)


# -- F2 and F3: PubMed XML ----------------------------------------------------------------------


def test_deep_nesting_is_refused_not_a_recursion_error():
    deep = article("1", "<i>" * 200_000 + "x" + "</i>" * 200_000)
    with pytest.raises(PubmedXMLError, match="nested more than"):
        parse_article_set(article_set(deep), "deep.xml")


def test_cli_import_of_deep_file_is_one_line(corpus_dir, tmp_path, monkeypatch, capsys):
    deep = tmp_path / "deep.xml"
    deep.write_bytes(article_set(article("30534625", "<i>" * 5000 + "x" + "</i>" * 5000)))
    monkeypatch.setenv("KETAQA_CORPUS_DIR", str(corpus_dir))
    # the only file could not be read at all: an input error (exit 2), "nothing imported: …"
    assert main(["abstracts", "import", str(deep)]) == 2
    assert "nested more than" in one_line_error(capsys)


def test_oversized_abstract_is_refused_and_the_rest_imported(corpus_dir, tmp_path):
    refs = load_references(corpus_dir / "references.json")
    export = tmp_path / "export.xml"
    huge = "Synthetic words. " * (MAX_ABSTRACT_CHARS // 10)
    export.write_bytes(
        article_set(article("30534625", huge), article("10691234", "A small synthetic abstract."))
    )
    report = import_path(corpus_dir, export, refs)
    assert report.imported == ("celerier2000",)
    assert len(report.refused) == 1 and report.refused[0].startswith("bell2018: abstract of")
    assert not cache_path(corpus_dir, "bell2018").exists()


def test_oversized_cached_file_is_skipped_and_named(corpus_dir, caplog):
    folder = corpus_dir / "abstracts"
    folder.mkdir()
    huge = "Synthetic words. " * (MAX_ABSTRACT_CHARS // 10)
    (folder / "bell2018.xml").write_bytes(article_set(article("30534625", huge)))
    (folder / "celerier2000.xml").write_bytes(article_set(article("10691234", "Small.")))
    rendered = load_rendered(corpus_dir)
    assert [r.key for r in rendered] == ["celerier2000"]  # the index stays buildable
    assert "bell2018.xml" in caplog.text and "not indexed" in caplog.text


# -- F5: folders -----------------------------------------------------------------------------------


def test_missing_corpus_dir_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KETAQA_CORPUS_DIR", str(tmp_path / "nowhere"))
    assert main(["index"]) == 2
    assert "KETAQA_CORPUS_DIR" in one_line_error(capsys)


def test_index_dir_that_is_a_file_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "index").write_text("not a folder")
    monkeypatch.setenv("KETAQA_INDEX_DIR", str(tmp_path / "index"))
    assert main(["ask", "what?"]) == 2
    assert "is a file, not a folder; set KETAQA_INDEX_DIR" in one_line_error(capsys)


def test_read_only_index_dir_is_one_line(tmp_path, monkeypatch, capsys):
    from ketaqa.apps import checks

    monkeypatch.setenv("KETAQA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setattr(checks, "writable_folder", lambda p: False)
    assert main(["index"]) == 1
    assert "read-only; set KETAQA_INDEX_DIR to a writable folder" in one_line_error(capsys)


def test_os_errors_name_the_setting(tmp_path):
    settings = Settings(index_dir=tmp_path / "index", data_dir=tmp_path / "data")
    exc = PermissionError(13, "Permission denied", str(tmp_path / "index" / ".lock"))
    assert "set KETAQA_INDEX_DIR to a writable folder" in describe_os_error(exc, settings)
    exc = OSError(30, "Read-only file system", str(tmp_path / "data" / "teaching.sqlite3"))
    assert "data folder" in describe_os_error(exc, settings)


# -- F9: API argument types --------------------------------------------------------------------


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(assistant=None, store=teaching.TeachingStore(tmp_path / teaching.DB_NAME))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.sets_save("S", "q?", [1, 2]), "each passage id must be text"),
        (lambda a: a.sets_save("S", "q?", "abc"), "passage_ids must be a list"),
        (lambda a: a.sets_export("a\ud800b"), "control or binary"),
        (lambda a: a.sets_export("S", "pdf"), "unknown export format"),
        (lambda a: a.evaluate("dev", "abc"), "limit must be"),
        (lambda a: a.ask(["q"]), "question must be text"),
        (lambda a: a.ask("q?", True), "top_k must be a whole number"),
    ],
)
def test_wrong_api_types_are_one_line_errors(api, call, message):
    with pytest.raises(gr.Error) as caught:
        call(api)
    assert message in caught.value.message and "\n" not in caught.value.message


def test_unexpected_failures_are_one_line_too(api, monkeypatch):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(api.store, "list_sets", broken)
    with pytest.raises(gr.Error, match="unexpected RuntimeError"):
        api.sets_list()


# -- F8: temporary folders -----------------------------------------------------------------------


def test_temp_folders_are_bounded_and_removed(tmp_path):
    folders = TempFolders(keep=3, parent=tmp_path)
    made = [folders.new("export-") for _ in range(10)]
    for folder in made:
        (folder / "x.md").write_text("x") if folder.exists() else None
    assert sum(1 for f in made if f.exists()) == 3
    root = folders.root
    folders.cleanup()
    assert not root.exists()


def test_roots_of_dead_processes_are_removed(tmp_path):
    dead = tmp_path / "ketaqa-tmp-999999999-abc"
    (dead / "export-x").mkdir(parents=True)
    alive = tmp_path / f"ketaqa-tmp-{os.getppid()}-abc"
    alive.mkdir()
    remove_stale_roots(tmp_path)
    assert not dead.exists() and alive.exists()


# -- F11: login throttling ---------------------------------------------------------------------


def test_failed_logins_are_throttled():
    now = [0.0]
    throttle = LoginThrottle("ed", "secret", clock=lambda: now[0])
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    check = auth_function(throttle, sleep=fake_sleep)

    async def attempts() -> list[bool]:
        return [await check("ed", f"guess{n}") for n in range(30)]

    assert not any(asyncio.run(attempts()))
    assert len(waits) == 29 and waits[:4] == [0.5, 1.0, 2.0, 4.0] and max(waits) == 8.0
    assert sum(waits) > 200  # 30 guesses now take minutes, not 0.03 s
    assert asyncio.run(check("ed", "secret")) is True
    assert throttle.delay() == 0.0


def test_login_throttle_is_per_client_address():
    """Failures from one address slow that address only; another logs in at once."""
    now = [0.0]
    throttle = LoginThrottle("ed", "secret", clock=lambda: now[0])
    waits: list[tuple[str, float]] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append((CLIENT_ADDRESS.get(), seconds))
        now[0] += seconds

    check = auth_function(throttle, sleep=fake_sleep)

    async def attempt(address: str, password: str) -> bool:
        token = CLIENT_ADDRESS.set(address)
        try:
            return await check("ed", password)
        finally:
            CLIENT_ADDRESS.reset(token)

    async def scenario() -> list[bool]:
        guesses = [await attempt("203.0.113.7", f"guess{n}") for n in range(6)]
        return [*guesses, await attempt("198.51.100.2", "secret")]

    results = asyncio.run(scenario())
    assert results == [False] * 6 + [True]
    assert [a for a, _ in waits] == ["203.0.113.7"] * 5  # the other address never waited
    assert throttle.delay("203.0.113.7") == 8.0 and throttle.delay("198.51.100.2") == 0.0


def test_login_throttle_remembers_a_bounded_number_of_addresses():
    throttle = LoginThrottle("ed", "secret", max_clients=3)
    for n in range(10):
        throttle.check("ed", "wrong", f"192.0.2.{n}")
    assert throttle.delay("192.0.2.9") == 0.5
    assert len(throttle._clients) == 3


def test_client_address_middleware_sets_and_resets_the_address():
    seen: list[str] = []

    async def inner(scope, receive, send) -> None:
        seen.append(CLIENT_ADDRESS.get())

    middleware = ClientAddress(inner)

    async def run() -> None:
        await middleware({"type": "http", "client": ("192.0.2.5", 4242)}, None, None)
        await middleware({"type": "http", "client": None}, None, None)
        await middleware({"type": "lifespan"}, None, None)

    asyncio.run(run())
    assert seen == ["192.0.2.5", "unknown", "unknown"]
    assert CLIENT_ADDRESS.get() == "unknown"


# -- idempotent saves from the Ask tab ----------------------------------------------------------


def test_save_request_id_is_the_same_for_the_same_save_only():
    token = new_save_token()
    same = save_request_id(token, "Week 1", ["b", "a"], "a", "note")
    assert same == save_request_id(token, " week 1 ", ["a", "b"], "a", "note")
    assert teaching.models.clean_request_id(same) == same  # short printable ASCII
    others = {
        save_request_id(new_save_token(), "Week 1", ["a", "b"], "a", "note"),
        save_request_id(token, "Week 2", ["a", "b"], "a", "note"),
        save_request_id(token, "Week 1", ["a"], "a", "note"),
        save_request_id(token, "Week 1", ["a", "b"], "b", "note"),
        save_request_id(token, "Week 1", ["a", "b"], "a", "other note"),
    }
    assert same not in others and len(others) == 5
    assert save_request_id(None, "Week 1", ["a"], "", "") is None


# -- C1 control characters ------------------------------------------------------------------------


def test_control_characters_are_escaped_for_the_terminal():
    assert terminal_safe("a\x9b31mb\x1b[2J\tc\n") == "a\\x9b31mb\\x1b[2J\tc\n"
    assert json_terminal_safe('{"t": "a\x9bb"}') == '{"t": "a\\u009bb"}'


def test_the_gradio_cache_sweep_removes_old_files_and_keeps_new_ones(tmp_path):
    """F8 under load: Gradio leaves an untracked copy of every exported file; the sweeper
    removes cached files older than its age, whoever made them, and their emptied folders."""
    old = tmp_path / "aa" / "week-1.md"
    new = tmp_path / "bb" / "week-2.md"
    for path in (old, new):
        path.parent.mkdir()
        path.write_text("x", encoding="utf-8")
    now = new.lstat().st_ctime
    assert sweep_old_files(tmp_path, older_than=600, now=now + 601) == 2
    assert not (tmp_path / "aa").exists() and not (tmp_path / "bb").exists()
    new.parent.mkdir()
    new.write_text("x", encoding="utf-8")
    assert sweep_old_files(tmp_path, older_than=600, now=new.lstat().st_ctime + 5) == 0
    assert new.exists()
