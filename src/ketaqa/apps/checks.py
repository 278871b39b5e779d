"""Folder checks before a command runs, OS failures as one line, and `ketaqa sets check`.

A wrong `KETAQA_*_DIR` should read "the index folder /x is a file, not a folder; set
KETAQA_INDEX_DIR to a folder", never a FileExistsError traceback from deep in a build.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ketaqa.config import Settings
from ketaqa.errors import InputError, KetaqaError, ReadOnlyError, os_error_message
from ketaqa.progress import Progress

# (attribute of Settings, what it is called, the variable that sets it)
FOLDERS = (
    ("corpus_dir", "the corpus folder", "KETAQA_CORPUS_DIR"),
    ("index_dir", "the index folder", "KETAQA_INDEX_DIR"),
    ("data_dir", "the data folder", "KETAQA_DATA_DIR"),
)


def check_paths(settings: Settings | None = None, write_index: bool = False) -> None:
    """The corpus folder exists; the index folder is a folder (writable when we must build)."""
    settings = settings or Settings.from_env()
    corpus = settings.corpus_dir
    if not corpus.is_dir():
        state = "is a file, not a folder" if corpus.exists() else "does not exist"
        raise InputError(f"the corpus folder {corpus} {state}; set KETAQA_CORPUS_DIR to it")
    index = settings.index_dir
    if index.exists() and not index.is_dir():
        raise InputError(
            f"the index folder {index} is a file, not a folder; set KETAQA_INDEX_DIR to a folder"
        )
    if write_index and not writable_folder(index):
        raise ReadOnlyError(
            f"the index folder {index} is read-only; set KETAQA_INDEX_DIR to a writable folder"
        )


def writable_folder(path: Path) -> bool:
    """Whether `path` (or, when missing, its nearest existing parent) can be written."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def describe_os_error(exc: OSError, settings: Settings | None = None) -> str:
    """`os_error_message` naming the KETAQA_* folder the failing path lies in, if any."""
    try:
        settings = settings or Settings.from_env()
    except KetaqaError:
        return os_error_message(exc)
    path = Path(str(exc.filename or ""))
    for attr, what, variable in FOLDERS:
        folder: Path = getattr(settings, attr)
        if exc.filename and (path == folder or folder in path.parents):
            return os_error_message(exc, f"{what} (at {path})", variable)
    return os_error_message(exc)


def cmd_sets(args: argparse.Namespace, progress: Progress) -> int:
    """`ketaqa sets check`: SQLite's full integrity check, on demand, without changing anything."""
    from ketaqa.teaching import TeachingStore

    store = TeachingStore.for_settings(Settings.from_env())
    problems = store.check()
    if not problems:
        print(f"{store.path}: ok")
        return 0
    print(f"{store.path}: damaged")
    for line in problems[:20]:
        print(f"  {line}")
    progress("the app salvages every readable row into a fresh database when it next opens it")
    return 1
