"""A maintainer's view of each document's structure, and loud warnings when it went wrong.

Two checks. What the document declares against what the parse found (`structure_checks`): the
contents table's entries against the headings found, the item labels in the text against the
items found, the references it cites against those linked, its bibliography-shaped lines against
the entries parsed, and no block many times the passage limit. And the last good build's counts
(`structure.json` beside the index) against this one's: a rebuild that loses more than
`MAX_LOSS` of a document's sections, items or bibliography entries warns, and a build with any
warning never replaces the last good counts. So a revision whose headings the parser no longer
recognises shows up at `ketaqa index`, and in the app, rather than as worse answers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from ketaqa.files import write_atomic
from ketaqa.pipeline.documents.corpus import Document
from ketaqa.pipeline.documents.layout import (
    ITEM_LABEL_RE,
    contents_table,
    looks_like_entry,
    split_lines,
)
from ketaqa.pipeline.documents.linking import BRACKET_CITE_RE
from ketaqa.pipeline.documents.outline import MAX_WORDS, BlockKind, Outline

log = logging.getLogger(__name__)

STRUCTURE_FILE = "structure.json"
WATCHED = ("sections", "items", "entries")  # the counts a lost heading pattern makes fall
MAX_LOSS = 0.25  # warn when one of them loses more than this share of the last good build's
HUGE_BLOCK = 4 * MAX_WORDS  # a block this long was a structure the parse did not find


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


def structure_checks(doc: Document, outline: Outline) -> list[str]:
    """Each way the parse disagrees with what the document itself declares, in words."""
    text, blocks = doc.text, outline.blocks
    out = []
    declared, _titles = contents_table(split_lines(text))
    found = {b.path.parts[0] for b in blocks if b.path.parts}
    missing = [name for name in declared if name not in found]
    if missing:
        out.append(
            f"contents lists {len(declared)} headings, {len(declared) - len(missing)} found "
            f"(not found: {', '.join(missing)})"
        )
    labels = list(dict.fromkeys(ITEM_LABEL_RE.findall(text)))
    items = [b for b in blocks if b.kind == BlockKind.ITEM]
    item_labels = {part.split()[0] for b in items for part in b.path.parts[2:3] if part}
    lost = [label for label in labels if label not in item_labels]
    if labels and not items:
        out.append(f"no study items found (the text labels {len(labels)}: {_few(labels)})")
    elif lost:
        out.append(f"{len(labels)} item labels, {len(labels) - len(lost)} found ({_few(lost)} not)")
    unlinked = sorted(
        {b.path.parts[2] for b in items if not b.reference_keys and len(b.path.parts) > 2}
    )
    if unlinked:
        out.append(f"items citing no reference: {_few(unlinked)}")
    cited = len(labels) + len(BRACKET_CITE_RE.findall(text))
    citing = [b for b in blocks if b.reference_keys and b.kind != BlockKind.ENTRY]
    if cited and not citing:
        out.append(f"the text cites {cited} references, none linked")
    shaped = sum(1 for line in text.split("\n") if looks_like_entry(line))
    entries = sum(1 for b in blocks if b.kind == BlockKind.ENTRY)
    if shaped >= 5 and entries < shaped / 2:
        out.append(f"{shaped} lines look like bibliography entries, {entries} parsed as entries")
    for b in blocks:
        words = len(text[b.start : b.end].split())
        if words > HUGE_BLOCK:
            out.append(
                f"a passage of {words:,} words under {b.path} (cut into passages of at most "
                f"{MAX_WORDS} words)"
            )
    return out


def _few(names: list[str]) -> str:
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def structure_warnings(
    previous: dict[str, dict[str, int]], current: dict[str, StructureCounts]
) -> dict[str, str]:
    """Per document whose sections, items or bibliography entries lost more than MAX_LOSS
    since the last good build: likely a revision whose layout the parser no longer reads."""
    warnings = {}
    for doc_id, now in current.items():
        before = previous.get(doc_id) or {}
        fell = [
            f"{name} {before[name]} → {getattr(now, name)}"
            for name in WATCHED
            if isinstance(before.get(name), int)
            and getattr(now, name) < before[name] * (1 - MAX_LOSS)
        ]
        if fell:
            warnings[doc_id] = (
                f"warning: {doc_id} parsed into much less structure than the last good build "
                f"({', '.join(fell)}); check its headings"
            )
    return warnings


def read_last(index_dir: Path) -> dict[str, dict[str, int]]:
    """The last good build's counts by document; nothing if none or it is unreadable."""
    path = index_dir / STRUCTURE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def report(
    index_dir: Path,
    counts: dict[str, StructureCounts],
    checks: dict[str, list[str]] | None = None,
) -> list[str]:
    """The report's lines: one per document, then its warnings (the mismatches `checks`
    found, a loss since the last good build). Remembers the counts of each document that
    drew no warning, so a bad build never becomes the yardstick of the next one.

    A document absent this time keeps its last counts, so taking a file out and putting a
    shrunken version back still warns."""
    previous = read_last(index_dir)
    checks = checks or {}
    lost = structure_warnings(previous, counts)
    lines = [c.line(doc_id) for doc_id, c in counts.items()]
    warned = set()
    for doc_id in counts:
        if checks.get(doc_id):
            lines.append(f"warning: {doc_id}: {'; '.join(checks[doc_id])}")
            warned.add(doc_id)
        if doc_id in lost:
            lines.append(lost[doc_id])
            warned.add(doc_id)
    good = {d: asdict(c) for d, c in counts.items() if d not in warned}
    remembered = {**previous, **good}
    write_atomic(index_dir / STRUCTURE_FILE, json.dumps(remembered, indent=1, sort_keys=True))
    return lines
