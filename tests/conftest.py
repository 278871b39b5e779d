"""Shared fixtures: the model is loaded once and the real corpus indexed once per session."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from ketaqa.config import REPO_ROOT, Settings, offline_env

offline_env()
# No test reaches NCBI: `ketaqa index` skips its first-run fetch unless a test turns it on
# (with a loopback E-utilities server, tests/integration/test_first_run.py).
os.environ["KETAQA_ABSTRACTS"] = "off"

CORPUS = REPO_ROOT / "corpus"
STATEMENT = CORPUS / "position-statement.txt"


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """An empty corpus folder holding only the real references.json (for abstract imports)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(CORPUS / "references.json", folder / "references.json")
    return folder


@pytest.fixture(scope="session")
def statement_text() -> str:
    return STATEMENT.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def encoder():
    from ketaqa.pipeline.embedding import Encoder

    enc = Encoder()
    enc.encode(["warm up"])
    return enc


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """Settings over a session copy of the real corpus, with temporary index and data dirs."""
    root = tmp_path_factory.mktemp("ketaqa")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in ("position-statement.txt", "references.json"):
        shutil.copy(CORPUS / name, corpus / name)
    return replace(
        Settings.from_env({}), corpus_dir=corpus, index_dir=root / "index", data_dir=root / "data"
    )


@pytest.fixture(scope="session")
def assistant(settings, encoder):
    from ketaqa.pipeline.assistant import Assistant

    return Assistant.open(settings, encoder)


@pytest.fixture
def fresh_settings(tmp_path) -> Settings:
    """Settings over a private copy of the real corpus, for tests that change or break things."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("position-statement.txt", "references.json"):
        shutil.copy(CORPUS / name, corpus / name)
    return replace(
        Settings.from_env({}),
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        data_dir=tmp_path / "data",
    )


@pytest.fixture(scope="session")
def statement_pdf_corpus(tmp_path_factory):
    """A corpus holding the statement rendered once per session as the college lays it out
    (tests/document_fixtures.py), with the real references.json beside it."""
    from document_fixtures import find_font, render

    font_dir = find_font()
    if font_dir is None:
        pytest.skip("no DejaVu TTF (Debian fonts-dejavu-core) to render the fixture PDF")
    corpus = tmp_path_factory.mktemp("pdf-corpus")
    shutil.copy(CORPUS / "references.json", corpus / "references.json")
    render(
        STATEMENT.read_text(encoding="utf-8"), corpus / "position-statement.pdf", PDF_CODE, font_dir
    )
    return corpus


PDF_CODE = "FPM-PS41 (2022)"


@pytest.fixture(scope="session")
def revised_corpus(tmp_path_factory):
    """A corpus holding a revised statement: reworded headings, a section added, an item
    renumbered (tests/document_fixtures.py)."""
    from document_fixtures import revised_statement

    corpus = tmp_path_factory.mktemp("revised-corpus")
    shutil.copy(CORPUS / "references.json", corpus / "references.json")
    text = revised_statement(STATEMENT.read_text(encoding="utf-8"))
    (corpus / "position-statement.txt").write_text(text, encoding="utf-8")
    return corpus


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory):
    """A corpus holding only a synthetic statement about another, invented drug, with its own
    bibliography and no references.json (tests/document_fixtures.py)."""
    from document_fixtures import SYNTHETIC_STATEMENT

    corpus = tmp_path_factory.mktemp("synthetic-corpus")
    (corpus / "zelorafine-statement.txt").write_text(SYNTHETIC_STATEMENT, encoding="utf-8")
    return corpus


from pg_fixture import _pg_database, pg_url, postgres_server  # noqa: E402, F401  (fixtures)
