"""What only the PostgreSQL store has: the store factory, migrations run at every start (and
from two replicas at once), refusal of a newer schema, and errors that never show a password."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from ketaqa.config import Settings
from ketaqa.teaching import SetStore, TeachingError, TeachingStore, open_store

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install '.[postgres]'"
)

from ketaqa.teaching.postgres import MIGRATIONS, PostgresStore  # noqa: E402


def test_database_url_setting_chooses_the_store(tmp_path):
    settings = Settings.from_env({"KETAQA_DATA_DIR": str(tmp_path)})
    assert settings.database_url is None
    assert isinstance(open_store(settings), TeachingStore)
    url = "postgresql://ketaqa:pw@127.0.0.1:1/ketaqa"
    settings = Settings.from_env({"KETAQA_DATABASE_URL": url})
    store = open_store(settings)
    assert isinstance(store, PostgresStore) and isinstance(store, SetStore)
    assert isinstance(open_store(replace(settings, database_url=None)), TeachingStore)


def test_unreachable_server_is_one_line_without_the_password():
    store = PostgresStore("postgresql://ketaqa:hunter2@127.0.0.1:1/teaching?connect_timeout=2")
    with pytest.raises(TeachingError, match=r"cannot reach .* at 127\.0\.0\.1:1/teaching") as err:
        store.list_sets()
    assert "hunter2" not in str(err.value)


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as con:
        rows = con.execute("SELECT version FROM ketaqa.schema_migrations ORDER BY version")
        return [r[0] for r in rows]


def test_migrations_are_safe_to_run_at_every_start(pg_url):
    store = PostgresStore(pg_url)
    assert store.migrate() == len(MIGRATIONS)
    store.create_set("Kept")
    assert PostgresStore(pg_url).migrate() == len(MIGRATIONS)  # a restart: nothing to do
    assert _versions(pg_url) == list(range(1, len(MIGRATIONS) + 1))
    assert [s.name for s in PostgresStore(pg_url).list_sets()] == ["Kept"]


def test_two_replicas_starting_together_migrate_once(pg_url):
    errors: list[Exception] = []

    def start() -> None:
        try:
            PostgresStore(pg_url).list_sets()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _versions(pg_url) == list(range(1, len(MIGRATIONS) + 1))


def test_a_newer_schema_is_refused_not_changed(pg_url):
    PostgresStore(pg_url).migrate()
    with psycopg.connect(pg_url) as con:
        con.execute("INSERT INTO ketaqa.schema_migrations VALUES (99, 'future')")
    with pytest.raises(TeachingError, match="newer ketaqa"):
        PostgresStore(pg_url).list_sets()


def test_names_are_case_insensitive_like_sqlite(pg_url):
    store = PostgresStore(pg_url)
    store.create_set("Week 1")
    with pytest.raises(TeachingError, match="already exists"):
        store.create_set("WEEK 1")
    assert store.get_set("week 1").name == "Week 1"
