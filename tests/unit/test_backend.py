"""Backend settings and the retry rule, without a server: one retry on a new connection, then
one BackendError line naming the URI."""

from __future__ import annotations

import pytest

from ketaqa.config import Settings
from ketaqa.errors import KetaqaError
from ketaqa.pipeline.search.backends import milvus_search
from ketaqa.pipeline.search.backends.milvus_search import BackendError, MilvusConnection


def test_backend_settings_from_env():
    s = Settings.from_env(
        {
            "KETAQA_BACKEND": "milvus",
            "KETAQA_MILVUS_URI": "http://milvus.example:19530",
            "KETAQA_MILVUS_COLLECTION": "college_docs",
            "KETAQA_BACKEND_FALLBACK": "local",
        }
    ).backend
    assert (s.kind, s.milvus_uri, s.collection, s.fallback) == (
        "milvus",
        "http://milvus.example:19530",
        "college_docs",
        "local",
    )
    assert Settings.from_env({}).backend.kind == "local"


@pytest.mark.parametrize(
    "env",
    [
        {"KETAQA_BACKEND": "elastic"},
        {"KETAQA_BACKEND_FALLBACK": "remote"},
        {"KETAQA_MILVUS_COLLECTION": "1-bad name"},
    ],
)
def test_bad_backend_settings_are_one_line_errors(env):
    with pytest.raises(KetaqaError) as info:
        Settings.from_env(env)
    assert "\n" not in str(info.value)


class FlakyClient:
    """Fails the first `failures` calls made through any client, then answers."""

    calls = 0
    failures = 1
    made = 0

    def __init__(self, **kwargs):
        FlakyClient.made += 1

    def search(self):
        FlakyClient.calls += 1
        if FlakyClient.calls <= FlakyClient.failures:
            raise ConnectionError("connection reset by peer")
        return "hits"

    def close(self):
        pass


@pytest.fixture
def flaky(monkeypatch):
    FlakyClient.calls = FlakyClient.made = 0
    monkeypatch.setattr(milvus_search, "milvus_client_class", lambda: FlakyClient)
    return FlakyClient


def test_one_failure_is_retried_on_a_new_connection(flaky):
    flaky.failures = 1
    conn = MilvusConnection(Settings.from_env({}).backend)
    assert conn.call("a search", lambda c: c.search()) == "hits"
    assert (flaky.calls, flaky.made) == (2, 2)


def test_two_failures_are_one_line_naming_the_uri(flaky):
    flaky.failures = 2
    conn = MilvusConnection(Settings.from_env({"KETAQA_MILVUS_URI": "http://h:1"}).backend)
    with pytest.raises(BackendError) as info:
        conn.call("a search", lambda c: c.search())
    assert flaky.calls == 2  # exactly one retry
    message = str(info.value)
    assert "http://h:1" in message and "a search" in message and "\n" not in message
