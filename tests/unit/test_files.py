"""The checksum memo: a remembered hash is reused only for the very same file, unchanged."""

from __future__ import annotations

import json
import os

from ketaqa.files import sha256_file, sha256_file_memo


def test_memo_remembers_and_reuses_the_hash(tmp_path):
    data, memo = tmp_path / "weights.bin", tmp_path / "checksums.json"
    data.write_bytes(b"model weights")
    assert sha256_file_memo(data, memo) == sha256_file(data)
    entry = json.loads(memo.read_text())[str(data.resolve())]
    entry["sha256"] = "remembered"  # proves the second call reads the memo, not the file
    memo.write_text(json.dumps({str(data.resolve()): entry}))
    assert sha256_file_memo(data, memo) == "remembered"


def test_a_changed_file_is_hashed_again(tmp_path):
    data, memo = tmp_path / "weights.bin", tmp_path / "checksums.json"
    data.write_bytes(b"model weights")
    sha256_file_memo(data, memo)
    stat = data.stat()
    data.write_bytes(b"model weigh7s")  # same size
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: ctime still moves
    assert sha256_file_memo(data, memo) == sha256_file(data)


def test_a_replaced_file_is_hashed_again(tmp_path):
    data, memo = tmp_path / "weights.bin", tmp_path / "checksums.json"
    data.write_bytes(b"old")
    sha256_file_memo(data, memo)
    (tmp_path / "new.bin").write_bytes(b"new")
    os.replace(tmp_path / "new.bin", data)
    assert sha256_file_memo(data, memo) == sha256_file(data)


def test_a_damaged_memo_is_ignored_and_rewritten(tmp_path):
    data, memo = tmp_path / "weights.bin", tmp_path / "checksums.json"
    data.write_bytes(b"model weights")
    memo.write_bytes(b"\x00not json")
    assert sha256_file_memo(data, memo) == sha256_file(data)
    assert str(data.resolve()) in json.loads(memo.read_text())


def test_no_folder_is_created_for_the_memo(tmp_path):
    data = tmp_path / "weights.bin"
    data.write_bytes(b"model weights")
    memo = tmp_path / "no-index-yet" / "checksums.json"
    assert sha256_file_memo(data, memo) == sha256_file(data)
    assert not memo.parent.exists()
