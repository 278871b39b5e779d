"""Where a report's numbers come from: commit, dirty flag, date, fingerprints, settings, model.

Two reports can only be compared when a reader can tell what differed between them, so every
report starts with this header.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path

from ketaqa.config import REPO_ROOT
from ketaqa.files import sha256_file
from ketaqa.pipeline.answering.assistant import Assistant


def git_state(root: Path = REPO_ROOT) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout, or (None, None) outside git or without it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    if commit.returncode != 0:
        return None, None
    return commit.stdout.strip(), bool(status.stdout.strip())


def report_header(
    assistant: Assistant, questions_path: Path, started: dt.datetime, seconds: float
) -> dict:
    """The facts a reader needs to trust or compare this run."""
    fingerprint = assistant.index.manifest.get("fingerprint", {})
    files = assistant.index.manifest.get("files", {})
    commit, dirty = git_state()
    verdict_file = assistant.settings.verdict_model_file
    return {
        "commit": commit,
        "dirty": dirty,
        "date": started.isoformat(timespec="seconds"),
        "duration_seconds": round(seconds, 1),
        "corpus": fingerprint.get("corpus_hash"),
        "index": hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16],
        "model": fingerprint.get("model_id"),
        "passages": len(assistant.index.passages),
        "questions_file": _shown(questions_path),
        "questions_sha256": sha256_file(questions_path)[:16],
        "verdict_model_sha256": sha256_file(verdict_file)[:16] if verdict_file.exists() else None,
        "settings": assistant.settings.retrieval.to_dict(),
    }


def _shown(path: Path) -> str:
    """A path relative to the repository when it lies inside it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
