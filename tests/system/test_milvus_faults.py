"""Faults of the Milvus backend against real `milvus-lite server` processes: killed before
start (a clear error naming the URI, or the local index with KETAQA_BACKEND_FALLBACK=local),
killed mid-run (one retry, then one line: no traceback in the CLI, the API or the app), and
restarted (the retry reconnects)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ketaqa.errors import KetaqaError
from ketaqa.tools import milvus_lite

pytestmark = pytest.mark.slow

if milvus_lite.available():
    pytest.skip(milvus_lite.available(), allow_module_level=True)

QUESTION = "What are the contraindications to ketamine infusions?"


@pytest.fixture
def server(tmp_path, assistant):  # `assistant`: the session's local index exists
    srv = milvus_lite.start_server(tmp_path / "milvus")
    yield srv
    srv.stop()


def milvus_settings(settings, uri: str, fallback: str = ""):
    backend = replace(settings.backend, kind="milvus", milvus_uri=uri, fallback=fallback, timeout=5)
    return replace(settings, backend=backend)


def test_server_killed_before_start_is_one_line_naming_the_uri(settings, server, encoder):
    from ketaqa.pipeline.answering.assistant import Assistant

    s = milvus_settings(settings, server.uri)
    server.kill()
    with pytest.raises(KetaqaError) as info:
        Assistant.open(s, encoder)
    message = str(info.value)
    assert server.uri in message and "\n" not in message
    assert "KETAQA_BACKEND_FALLBACK=local" in message


def test_fallback_to_the_local_index_warns(settings, server, encoder, assistant):
    from ketaqa.pipeline.answering.assistant import Assistant

    s = milvus_settings(settings, server.uri, fallback="local")
    server.kill()
    said: list[str] = []
    fallback = Assistant.open(s, encoder, progress=said.append)
    assert any(m.startswith("warning:") and server.uri in m for m in said), said
    assert "backend" not in fallback.index.manifest  # the local index
    got = [rp.passage.id for rp in fallback.ask(QUESTION).passages]
    assert got == [rp.passage.id for rp in assistant.ask(QUESTION).passages]


def test_server_killed_mid_run(settings, server, encoder, monkeypatch, capsys):
    from ketaqa.apps.cli import main
    from ketaqa.apps.ui.api import Api
    from ketaqa.pipeline.answering.assistant import Assistant
    from ketaqa.pipeline.search.backends import build_milvus

    s = milvus_settings(settings, server.uri)
    build_milvus(s)
    remote = Assistant.open(s, encoder)
    assert remote.ask(QUESTION).passages
    server.kill()
    with pytest.raises(KetaqaError) as info:
        remote.ask(QUESTION)
    assert server.uri in str(info.value) and "\n" not in str(info.value)
    # the app's API turns it into one AppError line, not a traceback
    from gradio.exceptions import Error as AppError

    with pytest.raises(AppError) as api_info:
        Api(remote, store=None).ask(QUESTION)  # type: ignore[arg-type]
    assert server.uri in str(api_info.value)
    # the CLI: exit code 1 and one line on stderr
    monkeypatch.setenv("KETAQA_BACKEND", "milvus")
    monkeypatch.setenv("KETAQA_MILVUS_URI", server.uri)
    monkeypatch.setenv("KETAQA_MILVUS_TIMEOUT", "3")
    monkeypatch.setenv("KETAQA_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("KETAQA_INDEX_DIR", str(settings.index_dir))
    capsys.readouterr()
    assert main(["ask", QUESTION]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("ketaqa: error:")]
    assert server.uri in err


def test_restarted_server_is_reconnected_by_the_retry(settings, server, encoder):
    from ketaqa.pipeline.answering.assistant import Assistant
    from ketaqa.pipeline.search.backends import build_milvus

    s = milvus_settings(settings, server.uri)
    build_milvus(s)
    remote = Assistant.open(s, encoder)
    before = [rp.passage.id for rp in remote.ask(QUESTION).passages]
    server.kill()
    server.start()  # same port, same data directory
    assert [rp.passage.id for rp in remote.ask(QUESTION).passages] == before
