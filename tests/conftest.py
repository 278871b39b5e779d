"""Shared fixtures: the model is loaded once and the real corpus indexed once per session."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ketaqa.settings import REPO_ROOT, Settings

CORPUS = REPO_ROOT / "corpus"
STATEMENT = CORPUS / "position-statement.txt"


@pytest.fixture(scope="session")
def statement_text() -> str:
    return STATEMENT.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def encoder():
    from ketaqa.embedding import Encoder

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
    from ketaqa.assistant import Assistant

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
