"""Settings come from one place: defaults, the tuned file, then KETAQA_* variables."""

import json

import pytest

from ketaqa.apps.cli import build_parser
from ketaqa.config import (
    TUNED_SETTINGS_FILE,
    RetrievalSettings,
    Settings,
    load_tuned_retrieval,
    server_from_env,
)
from ketaqa.errors import KetaqaError


def test_host_port_and_concurrency_come_from_the_environment():
    server = server_from_env({})
    assert (server.host, server.port, server.concurrency) == ("127.0.0.1", 7860, 4)
    server = server_from_env({"KETAQA_HOST": "0.0.0.0", "KETAQA_PORT": "8080"})
    assert (server.host, server.port) == ("0.0.0.0", 8080)
    assert server_from_env({"KETAQA_CONCURRENCY": "2"}).concurrency == 2
    for bad in ({"KETAQA_PORT": "99999"}, {"KETAQA_PORT": "x"}, {"KETAQA_CONCURRENCY": "0"}):
        with pytest.raises(KetaqaError, match="KETAQA_"):
            server_from_env(bad)


def test_flags_override_the_environment():
    args = build_parser().parse_args(["serve", "--port", "9000"])
    assert args.port == 9000 and args.host is None  # None: fall back to settings.server
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--port", "99999"])


def test_auth_comes_from_the_environment_in_pairs():
    assert server_from_env({}).auth is None
    env = {"KETAQA_USERNAME": "u", "KETAQA_PASSWORD": "p"}
    assert server_from_env(env).auth == ("u", "p")
    with pytest.raises(KetaqaError, match="both"):
        server_from_env({"KETAQA_USERNAME": "u"})


def test_paths_come_from_the_environment(tmp_path):
    settings = Settings.from_env({"KETAQA_INDEX_DIR": str(tmp_path)})
    assert settings.index_dir == tmp_path
    assert settings.corpus_dir.name == "corpus"


def test_defaults_equal_the_tuned_file():
    """One source of truth: a checkout without eval/tuned_settings.json ranks the same."""
    tuned = json.loads(TUNED_SETTINGS_FILE.read_text(encoding="utf-8"))["retrieval"]
    defaults = RetrievalSettings().to_dict()
    assert {k: defaults[k] for k in tuned} == tuned
    assert load_tuned_retrieval(TUNED_SETTINGS_FILE) == RetrievalSettings()
