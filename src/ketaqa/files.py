"""Atomic file writes, shared by every stage that saves something a user relies on."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write via a temporary file in the same folder, fsync, then `os.replace`: a reader sees
    the old file or the new one, never half of one, even if the process is killed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks so large weights never sit in memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


CHECKSUMS_FILE = "checksums.json"  # the memo's name in an index folder


def sha256_file_memo(path: Path, memo: Path) -> str:
    """`sha256_file`, remembered in the JSON file `memo` by the file's identity and stat.

    Hashing the model weights and the ONNX export (about 90 MB each) took about 0.2 s of every
    cold `ketaqa ask`. The stored hash is reused only while the file's device, inode, size,
    mtime_ns and ctime_ns are all unchanged; any write or replacement changes one of them, and
    then the file is hashed again. The memo is a cache: unreadable, it is ignored; unwritable
    (a read-only or missing index folder), the hash is simply not remembered."""
    path = Path(path).resolve()
    st = path.stat()
    stamp = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    try:
        entries = json.loads(memo.read_text(encoding="utf-8"))
        if not isinstance(entries, dict):
            entries = {}
    except (OSError, ValueError):
        entries = {}
    known = entries.get(str(path))
    if isinstance(known, dict) and known.get("stat") == stamp and known.get("sha256"):
        return str(known["sha256"])
    digest = sha256_file(path)
    entries[str(path)] = {"stat": stamp, "sha256": digest}
    if memo.parent.is_dir():  # never create an index folder just to remember a hash
        with contextlib.suppress(OSError):
            write_atomic(memo, json.dumps(entries, indent=1, sort_keys=True))
    return digest
