"""`kill -9` in the middle of writes: the index and the teaching sets lose nothing committed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ketaqa.pipeline.indexing.index import index_status, load_index

pytestmark = pytest.mark.slow


def _env(settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KETAQA_CORPUS_DIR=str(settings.corpus_dir),
        KETAQA_INDEX_DIR=str(settings.index_dir),
        KETAQA_DATA_DIR=str(settings.data_dir),
        HF_HUB_OFFLINE="1",
    )
    return env


def test_kill_9_during_index_build_leaves_previous_index_usable(
    fresh_settings, settings, assistant
):
    shutil.copytree(settings.index_dir, fresh_settings.index_dir)
    before = load_index(fresh_settings)
    builds = fresh_settings.index_dir / "builds"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ketaqa.apps.cli", "index", "--rebuild"],
        env=_env(fresh_settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while len(list(builds.iterdir())) < 2 and proc.poll() is None:
            assert time.monotonic() < deadline, "the build never started writing"
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert index_status(fresh_settings) == "ok"
    after = load_index(fresh_settings)
    assert [p.id for p in after.passages] == [p.id for p in before.passages]


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ketaqa.teaching import SavedPassage, TeachingStore

    target = sys.argv[1]
    if "://" in target:
        from ketaqa.teaching.postgres import PostgresStore

        store = PostgresStore(target)
    else:
        store = TeachingStore(Path(target))
    passage = SavedPassage(id="p:1-2", text="Verbatim text.", highlight="Verbatim text.",
                           section="Section I", pages="pp. 2–6", citation="Synthetic citation")
    n = 0
    while True:
        item = store.add_item("Crash set", f"question {n}?", [passage], note=f"note {n}")
        print(item.id, flush=True)  # printed only after the transaction committed
        n += 1
    """
)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_during_teaching_writes_loses_nothing_committed(tmp_path, request, backend):
    from ketaqa.teaching import TeachingStore

    if backend == "postgres":
        from ketaqa.teaching.postgres import PostgresStore

        db = request.getfixturevalue("pg_url")
        reopen = PostgresStore
    else:
        db = str(tmp_path / "teaching.sqlite3")
        reopen = TeachingStore
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True
    )
    committed = []
    try:
        for line in proc.stdout:
            committed.append(int(line))
            if len(committed) >= 40:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    stored = {item.id for item in reopen(db).get_set("Crash set").items}
    assert set(committed) <= stored
