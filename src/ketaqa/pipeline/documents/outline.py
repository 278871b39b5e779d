"""The shape of a parsed document: where a verbatim span stands, on which pages, as what kind.

These records are what the structure stage hands to the passage stage (and what the index
stores), so they stay plain frozen data with no parsing logic of their own.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field


class BlockKind(enum.StrEnum):
    """What a span is. A `StrEnum` so it serialises to the same strings the index always held."""

    TITLE = "title"
    EPIGRAPH = "epigraph"
    CONTENTS = "contents"
    ITEM = "item"  # a cited item (A-1…D-2), a Section II study
    QUESTION = "question"  # one of the A-2 guideline questions
    BULLET = "bullet"
    PARAGRAPH = "paragraph"
    FOOTNOTE = "footnote"
    ENTRY = "entry"  # a bibliography entry
    ABSTRACT = "abstract"  # never parsed: abstracts arrive as passages of their own


# The passage size limit: no passage is longer, however its document parsed (a sentence group is
# cut at lines, then at words, if one sentence is longer). Shared by the passage stage and the
# structure check, which warns about a block many times this long.
MAX_WORDS = 120

# A line ending on one of these words was cut mid-sentence ("... should be avoided in").
# Shared by the parser (bullet lead-ins) and the passage stage (highlight units).
ENDS_MID_SENTENCE_RE = re.compile(r"\b(?:in|with|and|or|of|to|the|a|for|by)$")


@dataclass(frozen=True)
class SectionPath:
    parts: tuple[str, ...]

    def __str__(self) -> str:
        return " › ".join(self.parts)

    def child(self, part: str) -> SectionPath:
        return SectionPath((*self.parts, part))


@dataclass(frozen=True)
class PageSpan:
    """Printed pages a passage stands on; `last` is None when the end is not known."""

    first: int | None
    last: int | None

    def label(self) -> str:
        if self.first is None:
            return ""
        if self.last == self.first:
            return f"p. {self.first}"
        if self.last is None:
            return f"p. {self.first} ff."
        return f"pp. {self.first}–{self.last}"


@dataclass(frozen=True)
class Block:
    """A verbatim span of a document with its place in the structure."""

    start: int
    end: int
    kind: BlockKind
    path: SectionPath
    pages: PageSpan
    reference_keys: tuple[str, ...] = ()
    footnote_marks: tuple[str, ...] = ()  # superscript marks this block refers to
    own_mark: str | None = None  # for a footnote: its own mark
    lead_in: bool = False  # an introductory line that reads with what follows
    indent: int = 0  # bullet depth


@dataclass(frozen=True)
class Outline:
    doc_id: str
    blocks: tuple[Block, ...]
    problems: tuple[str, ...] = field(default=())  # references that could not be linked
    titles: dict[str, str] = field(default_factory=dict)  # region -> title (contents table)
