"""Which cited references should have an abstract, and which the cache holds.

A letter, commentary, report or book has no abstract to fetch, and references.json can say so
for any reference (`has_abstract: false`); neither counts as missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ketaqa.pipeline.documents.abstract_corpus import abstract_files, is_readable
from ketaqa.pipeline.documents.corpus import Reference

if TYPE_CHECKING:
    from ketaqa.abstracts.resolve import Resolution

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
    rows: tuple[StatusRow, ...] = ()  # one per reference, for the table


@dataclass(frozen=True)
class StatusRow:
    """One reference in `abstracts status`: its state, its PMID, and how it was found."""

    key: str
    state: str  # "loaded", "missing", "none by nature"
    pmid: str | None
    how: str  # "references.json", "ecitmatch", "doi", "title", "import", "unresolved", ""
    detail: str


def none_by_nature(ref: Reference) -> str | None:
    """Why a reference has no abstract to fetch, or None when it should have one."""
    if ref.kind in NO_ABSTRACT_KINDS:
        return f"{ref.kind}: no abstract by nature"
    if not ref.has_abstract:
        return "has_abstract is false in references.json"
    return None


def status(
    corpus_dir: Path,
    references: Iterable[Reference],
    resolutions: Mapping[str, Resolution] | None = None,
) -> AbstractStatus:
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
    rows = tuple(_row(r, r.key in readable, resolutions or {}) for r in refs)
    return AbstractStatus(loaded, missing, nature, tuple(unreadable), unknown, rows)


def _row(ref: Reference, loaded: bool, resolutions: Mapping[str, Resolution]) -> StatusRow:
    why = none_by_nature(ref)
    state = "loaded" if loaded else ("none by nature" if why else "missing")
    res = resolutions.get(ref.key)
    if res is not None:
        return StatusRow(ref.key, state, res.pmid or ref.pmid, res.how, res.detail)
    if ref.pmid:
        return StatusRow(ref.key, state, ref.pmid, "references.json", "")
    detail = why or ("" if loaded else "not looked up yet: run `ketaqa abstracts fetch`")
    return StatusRow(ref.key, state, None, "", detail)
