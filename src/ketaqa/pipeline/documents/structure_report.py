"""A maintainer's view of each document's structure, and a warning when a new version of a
document parses into much less of it than the last one did.

The counts of the last report are kept beside the index (`structure.json`), so a revision whose
headings the parser no longer recognises shows up at `ketaqa index` rather than as worse answers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from ketaqa.files import write_atomic
from ketaqa.pipeline.documents.corpus import Document
from ketaqa.pipeline.documents.outline import BlockKind, Outline

log = logging.getLogger(__name__)

STRUCTURE_FILE = "structure.json"
WATCHED = ("sections", "items", "entries")  # the counts a lost heading pattern makes fall
DROP = 0.5  # warn when one of them falls below this share of the last report's


@dataclass(frozen=True)
class StructureCounts:
    sections: int
    items: int
    entries: int
    entries_linked: int
    citing_blocks: int  # blocks outside the bibliography that cite a record
    cited: int  # distinct records they cite
    unlinked: int  # item headings and in-text mentions that name no record
    first_page: int
    last_page: int

    def line(self, doc_id: str) -> str:
        return (
            f"{doc_id}: {self.sections} sections, {self.items} items, "
            f"{self.entries} bibliography entries ({self.entries_linked} linked), "
            f"{self.citing_blocks} blocks citing {self.cited} references, "
            f"{self.unlinked} unlinked, pages {self.first_page}–{self.last_page}"
        )


def structure_counts(outline: Outline) -> StructureCounts:
    blocks = outline.blocks
    entries = [b for b in blocks if b.kind == BlockKind.ENTRY]
    citing = [b for b in blocks if b.reference_keys and b.kind != BlockKind.ENTRY]
    pages = {p for b in blocks for p in (b.pages.first, b.pages.last) if p is not None}
    return StructureCounts(
        sections=len({b.path.parts[0] for b in blocks if b.path.parts}),
        items=len({b.path.parts[:3] for b in blocks if b.kind == BlockKind.ITEM}),
        entries=len(entries),
        entries_linked=sum(1 for e in entries if e.reference_keys),
        citing_blocks=len(citing),
        cited=len({k for b in citing for k in b.reference_keys}),
        unlinked=len(outline.problems),
        first_page=min(pages, default=0),
        last_page=max(pages, default=0),
    )


def structure_summary(doc: Document, outline: Outline) -> str:
    """One line for a maintainer: how much structure a document parsed into."""
    return structure_counts(outline).line(doc.doc_id)


def structure_warnings(
    previous: dict[str, dict[str, int]], current: dict[str, StructureCounts]
) -> list[str]:
    """One line per document whose sections, items or bibliography entries fell by more than
    half since the last report: likely a revision whose layout the parser no longer reads."""
    warnings = []
    for doc_id, now in current.items():
        before = previous.get(doc_id) or {}
        fell = [
            f"{name} {before[name]} → {getattr(now, name)}"
            for name in WATCHED
            if isinstance(before.get(name), int) and getattr(now, name) < before[name] * DROP
        ]
        if fell:
            warnings.append(
                f"warning: {doc_id} parsed into much less structure than last time "
                f"({', '.join(fell)}); check its headings"
            )
    return warnings


def read_last(index_dir: Path) -> dict[str, dict[str, int]]:
    """The last report's counts by document; nothing if there is none or it is unreadable."""
    path = index_dir / STRUCTURE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def report(index_dir: Path, counts: dict[str, StructureCounts]) -> list[str]:
    """The report's lines (one per document, then any warnings); remembers these counts.

    A document absent this time keeps its last counts, so taking a file out and putting a
    shrunken version back still warns."""
    previous = read_last(index_dir)
    lines = [c.line(doc_id) for doc_id, c in counts.items()]
    lines += structure_warnings(previous, counts)
    remembered = {**previous, **{d: asdict(c) for d, c in counts.items()}}
    write_atomic(index_dir / STRUCTURE_FILE, json.dumps(remembered, indent=1, sort_keys=True))
    return lines
