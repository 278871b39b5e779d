"""Which cited references should have an abstract, and which the cache holds.

A letter, commentary, report or book has no abstract to fetch, and references.json can say so
for any reference (`has_abstract: false`); neither counts as missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ketaqa.pipeline.abstract_corpus import abstract_files, is_readable
from ketaqa.pipeline.corpus import Reference

NO_ABSTRACT_KINDS = ("letter", "commentary", "report", "book", "placeholder")


@dataclass(frozen=True)
class Missing:
    key: str
    reason: str


@dataclass(frozen=True)
class AbstractStatus:
    loaded: tuple[str, ...]  # cited references with a readable cached abstract
    missing: tuple[str, ...]  # should have an abstract, none cached
    none_by_nature: tuple[Missing, ...]  # letters, reports, … or has_abstract false
    unreadable: tuple[str, ...]  # cached files that are corrupt
    unknown: tuple[str, ...]  # cached files whose key is not in references.json


def none_by_nature(ref: Reference) -> str | None:
    """Why a reference has no abstract to fetch, or None when it should have one."""
    if ref.kind in NO_ABSTRACT_KINDS:
        return f"{ref.kind}: no abstract by nature"
    if not ref.has_abstract:
        return "has_abstract is false in references.json"
    return None


def status(corpus_dir: Path, references: Iterable[Reference]) -> AbstractStatus:
    refs = sorted(references, key=lambda r: r.key)
    known = {r.key for r in refs}
    readable, unreadable = set(), []
    for path in abstract_files(corpus_dir):
        if is_readable(path):
            readable.add(path.stem)
        else:
            unreadable.append(path.name)
    loaded = tuple(r.key for r in refs if r.key in readable)
    nature = tuple(
        Missing(r.key, why) for r in refs if r.key not in readable and (why := none_by_nature(r))
    )
    missing = tuple(r.key for r in refs if r.key not in readable and none_by_nature(r) is None)
    unknown = tuple(sorted(readable - known))
    return AbstractStatus(loaded, missing, nature, tuple(unreadable), unknown)
