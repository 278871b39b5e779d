"""Shared fixtures: the model is loaded once, each text encoded once, and the real corpus
indexed once per session.

The `slow` marker tells the truth: a test that loads the embedding model (the torch model or
its ONNX export), or asks for a fixture that does (`raw_encoder`, `encoder`, `assistant`), is
an error unless it is marked slow, so `pytest -m "not slow"` never loads the model.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ketaqa.config import REPO_ROOT, Settings, offline_env
from ketaqa.pipeline.indexing.embedding import Encoder
from ketaqa.pipeline.indexing.fast_encoder import OnnxEncoder

offline_env()
# No test reaches NCBI: `ketaqa index` skips its first-run fetch unless a test turns it on
# (with a loopback E-utilities server, tests/integration/test_first_run.py).
os.environ["KETAQA_ABSTRACTS"] = "off"

CORPUS = REPO_ROOT / "corpus"
STATEMENT = CORPUS / "position-statement.txt"


# -- the slow marker, enforced -------------------------------------------------------------------
MODEL_FIXTURES = frozenset({"raw_encoder"})  # `encoder` and `assistant` ask for it
_running: list[pytest.Item] = []  # the test being set up, run or torn down


def _unmarked(item: pytest.Item) -> bool:
    return item.get_closest_marker("slow") is None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    _running.append(item)
    try:
        yield
    finally:
        _running.pop()


def pytest_runtest_setup(item: pytest.Item) -> None:
    model = sorted(MODEL_FIXTURES & set(item.fixturenames))
    if model and _unmarked(item):
        pytest.fail(
            f"{item.nodeid} uses {', '.join(model)}, which loads the embedding model: "
            "mark it @pytest.mark.slow",
            pytrace=False,
        )


def _model_loads(what: str) -> None:
    """Called wherever the model is loaded; fails a test that is not marked slow (Failed is
    a BaseException, so no `except Exception` in the code under test swallows it)."""
    if _running and _unmarked(_running[-1]):
        pytest.fail(
            f"{_running[-1].nodeid} loads the embedding model ({what}): mark it "
            "@pytest.mark.slow, or give it a stand-in encoder",
            pytrace=False,
        )


@pytest.fixture(scope="session", autouse=True)
def _model_loads_only_in_slow_tests():
    torch_model, onnx_init = Encoder.model, OnnxEncoder.__init__

    def model(self):
        if self._model is None:
            _model_loads(f"sentence-transformers, {self.path}")
        return torch_model.fget(self)

    def init(self, onnx_path, *args, **kwargs):
        _model_loads(f"onnxruntime, {onnx_path}")
        onnx_init(self, onnx_path, *args, **kwargs)

    Encoder.model, OnnxEncoder.__init__ = property(model), init
    yield
    Encoder.model, OnnxEncoder.__init__ = torch_model, onnx_init


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


class RememberingEncoder:
    """The session's model, remembering the vector of each text it has encoded.

    Many tests rebuild an index of the same corpus to check what happens around a build
    (a stale or damaged index, a failed build, abstracts that crash the encoder). The model
    is deterministic, so encoding the same 148 passages and 210 sentences again (about 14 s
    a build on two cores) checked nothing new. Vectors are the model's own; only texts it
    has not seen reach it. `raw_encoder` is the model without the memory, for the test that
    two builds of one corpus agree."""

    def __init__(self, encoder):
        self._encoder = encoder
        self._vectors: dict[str, np.ndarray] = {}

    def __getattr__(self, name):
        return getattr(self._encoder, name)

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if new:
            vectors = self._encoder.encode(new, show_progress)
            self._vectors.update(zip(new, vectors, strict=True))
        if not texts:
            return self._encoder.encode([])
        return np.stack([self._vectors[t] for t in texts])


@pytest.fixture(scope="session")
def raw_encoder():
    enc = Encoder()
    enc.encode(["warm up"])
    return enc


@pytest.fixture(scope="session")
def encoder(raw_encoder):
    return RememberingEncoder(raw_encoder)


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
    from ketaqa.pipeline.answering.assistant import Assistant

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
