"""The position statement read line by line into `Block`s, keeping the current place.

Section I › A–D › items A-1…D-2, the A-2 guideline questions, Section II's studies, the
definitions and dates, Appendix 1's mechanisms and the Bibliography each are a `Region`; top-level
headings, definitions and footnotes read the same everywhere, every other line goes to its
region's handler (`StatementParser.handlers`). What a line looks like
is `documents.layout`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

from ketaqa.pipeline.documents.corpus import Document, Reference
from ketaqa.pipeline.documents.layout import (
    AUTHOR_START_RE,
    BIBLIOGRAPHY_HEADING_RE,
    BULLET_RE,
    CONTENTS_HEADING_RE,
    DATES_RE,
    DEFINITION_RE,
    FOOTNOTE_RE,
    GUIDELINE_QUESTION_NAMES,
    GUIDELINE_SOURCE,
    ITEM_PART_RE,
    ITEM_RE,
    MECHANISM_RE,
    QUESTION_RE,
    SECTION_RE,
    SUBSECTION_RE,
    SUPERSCRIPT_DIGIT,
    YEAR_RE,
    Line,
    contents_table,
    continues_on,
    ends_contents,
    is_caps_heading,
    split_lines,
)
from ketaqa.pipeline.documents.linking import ReferenceLinker
from ketaqa.pipeline.documents.outline import Block, BlockKind, Outline, PageSpan, SectionPath


class Region(enum.Enum):
    """Where the parser stands; each region reads its ordinary lines its own way."""

    FRONT = "front"
    SECTION = "section"
    DOCUMENT_INFO = "document-info"
    APPENDIX = "appendix"
    BIBLIOGRAPHY = "bibliography"


# (line index, line, stripped text, next non-blank line) -> index of the next line to read
LineHandler = Callable[[int, Line, str, Line | None], int]


class StatementParser:
    """A single pass over the statement's lines, keeping the current place in the outline."""

    def __init__(self, doc: Document, references: tuple[Reference, ...]):
        self.doc = doc
        self.linker = ReferenceLinker(references)
        self.lines = split_lines(doc.text)
        self.blocks: list[Block] = []
        self.problems: list[str] = []
        self.page_starts, self.titles = contents_table(self.lines)
        self.handlers: dict[Region, LineHandler] = {
            Region.FRONT: self._in_front,
            Region.SECTION: self._in_section,
            Region.DOCUMENT_INFO: self._in_document_info,
            Region.APPENDIX: self._in_appendix,
            Region.BIBLIOGRAPHY: self._in_bibliography,
        }
        # the current place; the empty paths stand for "not reached yet"
        self.region = Region.FRONT
        self.path = SectionPath(("Title",))
        self.pages = PageSpan(1, 1)
        self.refs: tuple[str, ...] = ()  # references the blocks at this place report
        self.section_root = SectionPath(())  # "Section I" … "Section IV"
        self.subsection = SectionPath(())  # Section I › A. … D.
        self.item_label: str | None = None  # "A-1" … "D-2"
        self.item_path = SectionPath(())
        self.subheading: str | None = None  # Section II / Bibliography sub-heading
        self.mechanism_path = SectionPath(())  # Appendix 1 › a mechanism

    # -- pages ------------------------------------------------------------------------------
    def _span(self, name: str) -> PageSpan:
        """Pages of a region: from its contents-table page to the page before the next one."""
        ordered = sorted(self.page_starts.items(), key=lambda kv: kv[1])
        names = [n for n, _ in ordered]
        if name not in self.page_starts:
            return PageSpan(None, None)
        first = self.page_starts[name]
        i = names.index(name)
        last = ordered[i + 1][1] - 1 if i + 1 < len(ordered) else None
        return PageSpan(first, last)

    def _between(self, before: str, after: str) -> PageSpan:
        """Pages of text standing after region `before` begins and before region `after`."""
        first = self.page_starts.get(before)
        nxt = self.page_starts.get(after)
        return PageSpan(first, nxt - 1 if nxt else None)

    # -- emitting ---------------------------------------------------------------------------
    def emit(
        self,
        start: int,
        end: int,
        kind: BlockKind,
        *,
        path: SectionPath | None = None,
        pages: PageSpan | None = None,
        reference_keys: tuple[str, ...] | None = None,
        own_mark: str | None = None,
        lead_in: bool = False,
        indent: int = 0,
    ) -> Block:
        """Record `[start, end)` trimmed of white space, at the current place unless told."""
        text = self.doc.text[start:end]
        lead = len(text) - len(text.lstrip())
        trail = len(text) - len(text.rstrip())
        start, end = start + lead, end - trail
        marks = tuple(dict.fromkeys(c for c in self.doc.text[start:end] if c in SUPERSCRIPT_DIGIT))
        if kind == BlockKind.FOOTNOTE:
            marks = tuple(m for m in marks if m != own_mark)
        refs = self.refs if reference_keys is None else reference_keys
        if self.doc.page_breaks:  # a PDF: the printed pages the span really stands on
            pages = PageSpan(self.doc.page_at(start), self.doc.page_at(end - 1))
        in_text = tuple(r.key for r in self.linker.in_text(self.doc.text[start:end]))
        for mention in self.linker.unlinked(self.doc.text[start:end]):
            self.problems.append(f"unlinked mention {mention}")
        block = Block(
            start=start,
            end=end,
            kind=kind,
            path=self.path if path is None else path,
            pages=self.pages if pages is None else pages,
            reference_keys=tuple(dict.fromkeys((*refs, *in_text))),
            footnote_marks=marks,
            own_mark=own_mark,
            lead_in=lead_in,
            indent=indent,
        )
        self.blocks.append(block)
        return block

    def _emit_run(self, i: int, kind: BlockKind) -> int:
        """Emit consecutive non-blank lines up to the next blank line as one block."""
        j = i
        while j + 1 < len(self.lines) and self.lines[j + 1].text.strip():
            j += 1
        self.emit(self.lines[i].start, self.lines[j].end, kind)
        return j + 1

    def link(self, where: str, text: str) -> tuple[str, ...]:
        candidates = self.linker.by_citation(where)
        if len(candidates) == 1:
            return (candidates[0].key,)
        # no reviewed `cited_in` for this place (a renumbered item, a reworded heading): the
        # heading names its study, so match it against every record by that study's author
        ref = (
            self.linker.best_match(candidates, text)
            if candidates
            else self.linker.best_match(list(self.linker.references), text, same_author=True)
        )
        if ref is None:
            self.problems.append(f"no reference record for {where!r}: {text[:60]!r}")
            return ()
        return (ref.key,)

    # -- the pass ---------------------------------------------------------------------------
    def parse(self) -> Outline:
        i = 0
        while i < len(self.lines):
            line = self.lines[i]
            stripped = line.text.strip()
            if not stripped:
                i += 1
                continue
            i = self.handle(i, line, stripped, self._next_nonblank(i))
        return Outline(self.doc.doc_id, self._attach_footnotes(), tuple(self.problems), self.titles)

    def _next_nonblank(self, i: int) -> Line | None:
        for line in self.lines[i + 1 :]:
            if line.text.strip():
                return line
        return None

    def handle(self, i: int, line: Line, s: str, nxt: Line | None) -> int:
        """Headings, definitions and footnotes read alike everywhere; other lines by region."""
        if CONTENTS_HEADING_RE.match(s):
            return self._contents(i)
        if self._region_heading(s):
            return i + 1
        if self.region == Region.FRONT and is_caps_heading(s):
            return i + 1  # "LITERATURE REVIEW", however worded
        if DEFINITION_RE.match(s):
            self.region, self.refs = Region.DOCUMENT_INFO, ()
            self.pages = self._between("Section II", "Appendix 1")
            path = SectionPath(("Document information", "Definitions"))
            self.emit(line.start, line.end, BlockKind.PARAGRAPH, path=path)
            return i + 1
        if FOOTNOTE_RE.match(s):
            path = SectionPath(("Footnote " + SUPERSCRIPT_DIGIT[s[0]],))
            self.emit(line.start, line.end, BlockKind.FOOTNOTE, own_mark=s[0], path=path)
            return i + 1
        return self.handlers[self.region](i, line, s, nxt)

    def _region_heading(self, s: str) -> bool:
        """Enter the region a top-level heading opens, if `s` is one."""
        m = SECTION_RE.match(s)
        if m:
            self._enter(Region.SECTION, f"Section {m.group(1)}")
            self.section_root = self.path
            self.subheading = None
        elif self.region != Region.FRONT and is_caps_heading(s):
            self._enter(Region.APPENDIX, "Appendix 1")
        elif BIBLIOGRAPHY_HEADING_RE.match(s):
            self._enter(Region.BIBLIOGRAPHY, "Bibliography")
        else:
            return False
        return True

    def _enter(self, region: Region, name: str) -> None:
        self.region, self.path, self.pages, self.refs = (
            region,
            SectionPath((name,)),
            self._span(name),
            (),
        )

    def _contents(self, i: int) -> int:
        """The contents table, up to the next upper-case or section heading, is one block."""
        j = i
        while j + 1 < len(self.lines) and not ends_contents(self.lines[j + 1].text.strip()):
            j += 1
        self.emit(
            self.lines[i].start,
            self.lines[j].end,
            BlockKind.CONTENTS,
            path=SectionPath(("Contents",)),
            pages=PageSpan(1, 1),
            reference_keys=(),
        )
        return j + 1

    # -- per region -------------------------------------------------------------------------
    def _in_front(self, i: int, line: Line, s: str, nxt: Line | None) -> int:
        """Title and subtitle lines, then the epigraph: a quote and its attribution line."""
        if s.startswith("“") or s.startswith('"'):
            end = nxt.end if nxt is not None else line.end
            self.emit(
                line.start,
                end,
                BlockKind.EPIGRAPH,
                path=SectionPath(("Epigraph",)),
                reference_keys=self.link("Epigraph", nxt.text if nxt is not None else ""),
            )
            return self.lines.index(nxt) + 1 if nxt is not None else i + 1
        self.emit(line.start, line.end, BlockKind.TITLE, path=SectionPath(("Title",)))
        return i + 1

    def _in_section(self, i: int, line: Line, s: str, nxt: Line | None) -> int:
        root = self.section_root
        m = ITEM_RE.match(s)
        if m and root.parts[0] == "Section I":
            return self._item(i, line, m.group(1))
        m = SUBSECTION_RE.match(s)
        if m and root.parts[0] == "Section I" and not BULLET_RE.match(line.text):
            self.path, self.refs = root.child(s), ()
            self.subsection = self.path
            return i + 1
        m = QUESTION_RE.match(s)
        if m and self.item_label is not None:
            names = GUIDELINE_QUESTION_NAMES if self.refs == GUIDELINE_SOURCE else {}
            name = f"({m.group(1)}) {names.get(m.group(1), '')}".strip()
            self.path = self.item_path.child(name)
            start = line.start + line.text.index("(")
            self.emit(start, line.end, BlockKind.QUESTION, lead_in=True)
            return i + 1
        if s == "Synopsis":
            return i + 1
        if root.parts[0] == "Section II":
            return self._in_section_two(i, line, s, nxt)
        return self._body_line(i, line, s, nxt)

    def _item(self, i: int, line: Line, label: str) -> int:
        """An item heading (its citation) starts a new item; C-1 has parts (a) and (b)."""
        self.item_label = label
        text = line.text
        start = line.start + text.index(label)
        part = ITEM_PART_RE.search(text[text.index(label) :])
        if not (part or label == "C-1"):
            self._enter_item(label, self.link(label, text))
            self.emit(start, line.end, BlockKind.ITEM)
            return i + 1
        # C-1.** (a) ... on this line, then (b) ... on the next line
        keys_a = self.link(f"{label}(a)", text)
        nxt_line = self.lines[i + 1]
        keys_b = (
            self.link(f"{label}(b)", nxt_line.text)
            if ITEM_PART_RE.match(nxt_line.text.strip())
            else ()
        )
        self._enter_item(label, (*keys_a, *keys_b))
        self.emit(start, line.end, BlockKind.ITEM, reference_keys=keys_a)
        if keys_b:
            self.emit(nxt_line.start, nxt_line.end, BlockKind.ITEM, reference_keys=keys_b)
            return i + 2
        return i + 1

    def _enter_item(self, label: str, keys: tuple[str, ...]) -> None:
        self.refs = keys
        self.item_path = self.subsection.child(f"{label} {self.linker.shorts(keys)}")
        self.path = self.item_path

    def _body_line(self, i: int, line: Line, s: str, nxt: Line | None) -> int:
        """A bullet or a paragraph under the current path."""
        b = BULLET_RE.match(line.text)
        if b:
            indent = 1 + (1 if b.group(1) else 0)
            start = line.start + b.end()
            body = line.text[b.end() :].strip()
            lead = (body.endswith((":", ",")) and len(body.split()) <= 8) or continues_on(body, nxt)
            self.emit(start, line.end, BlockKind.BULLET, indent=indent, lead_in=lead)
            return i + 1
        lead = s.endswith(":") and len(s.split()) <= 12
        if lead and nxt is not None and not BULLET_RE.match(nxt.text) and len(s.split()) <= 4:
            lead = False
        self.emit(line.start, line.end, BlockKind.PARAGRAPH, lead_in=lead or s.endswith(" with"))
        return i + 1

    def _in_section_two(self, i: int, line: Line, s: str, nxt: Line | None) -> int:
        """Section II: sub-headings, studies (an author-year line), and their bullets."""
        root = self.section_root
        if BULLET_RE.match(line.text):
            return self._body_line(i, line, s, nxt)
        words = s.split()
        is_heading = (
            len(words) <= 12
            and not s.endswith(".")
            and not AUTHOR_START_RE.match(s)
            and nxt is not None
        )
        if is_heading:
            self.subheading = s.rstrip(":")
            self.path, self.refs = root.child(self.subheading), ()
            return i + 1
        if AUTHOR_START_RE.match(s) and YEAR_RE.search(s) and self.subheading:
            keys = self.link(f"Section II: {self.subheading}", s)
            self.refs = keys
            self.path = root.child(self.subheading).child(self.linker.shorts(keys) or "study")
            self.emit(line.start, line.end, BlockKind.ITEM)
            return i + 1
        self.refs = ()
        self.path = root.child(self.subheading) if self.subheading else root
        return self._body_line(i, line, s, nxt)

    def _in_document_info(self, i: int, line: Line, s: str, nxt: Line | None) -> int:
        if DATES_RE.match(s):
            self.path = SectionPath(("Document information", "Dates"))
            return self._emit_run(i, BlockKind.PARAGRAPH)
        if s.startswith("©") or s.startswith("This work is copyright") or s.startswith("Website"):
            self.path = SectionPath(("Document information", "Copyright"))
        else:
            self.path = SectionPath(("Document information", "Disclaimer"))
        self.emit(line.start, line.end, BlockKind.PARAGRAPH)
        return i + 1

    def _in_appendix(self, i: int, line: Line, s: str, nxt: Line | None) -> int:
        if MECHANISM_RE.match(s) and len(s.split()) <= 12:
            self.path = SectionPath(("Appendix 1", s))
            self.mechanism_path = self.path
            return i + 1
        if s == "Possible other actions:":
            self.path = self.mechanism_path.child("Possible other actions")
            return i + 1
        return self._body_line(i, line, s, nxt)

    def _in_bibliography(self, i: int, line: Line, s: str, nxt: Line | None) -> int:
        is_heading = not re.search(r"\d", s) and len(s) < 60 and not AUTHOR_START_RE.match(s)
        if is_heading:
            self.subheading = s
            self.path = SectionPath(("Bibliography", s))
            return i + 1
        # an entry, possibly continued on the next line(s)
        j = i
        while j + 1 < len(self.lines):
            cont = self.lines[j + 1].text.strip()
            if not cont:
                break
            if YEAR_RE.search(self.lines[j].text) and not cont.startswith("<http"):
                break
            j += 1
        end_line = self.lines[j]
        text = self.doc.text[line.start : end_line.end]
        keys = self.link(f"Bibliography: {self.subheading}", text)
        self.emit(line.start, end_line.end, BlockKind.ENTRY, reference_keys=keys)
        return j + 1

    # -- footnotes --------------------------------------------------------------------------
    def _attach_footnotes(self) -> tuple[Block, ...]:
        """Give each footnote the path and reference of the block that refers to it."""
        referrers: dict[str, Block] = {}
        for block in self.blocks:
            if block.kind != BlockKind.FOOTNOTE:
                for mark in block.footnote_marks:
                    referrers.setdefault(mark, block)
        out = []
        for block in self.blocks:
            if block.kind == BlockKind.FOOTNOTE and block.own_mark in referrers:
                ref_block = referrers[block.own_mark]
                number = SUPERSCRIPT_DIGIT[block.own_mark]
                keys = self.linker.by_citation_prefix(f"Footnote {number}") or list(
                    ref_block.reference_keys
                )
                block = Block(
                    start=block.start,
                    end=block.end,
                    kind=BlockKind.FOOTNOTE,
                    path=ref_block.path.child(f"Footnote {number}"),
                    # a PDF knows the page the footnote is printed on
                    pages=block.pages if self.doc.page_breaks else ref_block.pages,
                    reference_keys=tuple(keys),
                    own_mark=block.own_mark,
                )
            out.append(block)
        return tuple(out)
