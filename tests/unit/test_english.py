"""The saved word frequency table answers exactly as wordfreq does, and a missing, damaged or
stale table only makes the lookup slower, never different."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from wordfreq import get_frequency_dict, zipf_frequency

from ketaqa.pipeline.indexing.english import (
    TABLE_FILE,
    EnglishFrequency,
    ensure_english_table,
    table_status,
)

# common, clinical, rare, unseen, and words outside the table's alphabet (wordfreq answers)
WORDS = [
    "the", "wrote", "pregnancy", "ketamine", "schizophrenia", "lidocaine", "paeds",
    "infusoin", "zzzqqq", "a", "80s", "t1", "café", "Ketamine",
]  # fmt: skip


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("index")
    ensure_english_table(folder)
    return folder


def test_the_table_equals_wordfreq(index_dir):
    lookup = EnglishFrequency(index_dir)
    sample = list(get_frequency_dict("en"))[::97]  # about 3,000 words across the whole range
    for word in WORDS + sample:
        assert lookup(word) == zipf_frequency(word, "en"), word


def test_a_current_table_is_used_and_kept(index_dir):
    assert table_status(index_dir) == "ok"
    lookup = EnglishFrequency(index_dir)
    lookup("ketamine")
    assert lookup._db is not None  # answered from the table, not from wordfreq


def test_without_a_table_wordfreq_answers(tmp_path):
    lookup = EnglishFrequency(tmp_path)
    assert table_status(tmp_path) == "missing"
    assert lookup("pregnancy") == zipf_frequency("pregnancy", "en")


def test_a_damaged_table_falls_back_and_is_rebuilt(index_dir, tmp_path):
    path = tmp_path / TABLE_FILE
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    assert EnglishFrequency(tmp_path)("pregnancy") == zipf_frequency("pregnancy", "en")
    assert table_status(tmp_path).startswith("damaged")
    ensure_english_table(tmp_path)
    assert table_status(tmp_path) == "ok"


def test_a_table_from_other_data_is_stale_and_not_used(index_dir, tmp_path):
    path = tmp_path / TABLE_FILE
    shutil.copyfile(index_dir / TABLE_FILE, path)
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = 'other' WHERE key = 'source_sha256'")
    db.execute("UPDATE zipf SET zipf = 9.99 WHERE word = 'pregnancy'")
    db.commit()
    db.close()
    assert table_status(tmp_path).startswith("stale")
    assert EnglishFrequency(tmp_path)("pregnancy") == zipf_frequency("pregnancy", "en")


def test_a_table_that_cannot_be_saved_is_reported_not_raised(tmp_path, monkeypatch):
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("ketaqa.pipeline.indexing.english.write_english_table", refuse)
    said = []
    assert ensure_english_table(tmp_path, said.append) is False
    assert "questions will read wordfreq" in said[-1]
    assert EnglishFrequency(tmp_path)("pregnancy") == zipf_frequency("pregnancy", "en")
