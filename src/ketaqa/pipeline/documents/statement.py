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
    CONTENTS_ROW_RE,
    DATES_RE,
    DEFINITION_RE,
    FOOTNOTE_RE,
    GUIDELINE_QUESTION_NAMES,
    GUIDELINE_SOURCE,
    ITEM_PART_RE,
    ITEM_PARTS_RE,
    ITEM_RE,
    MECHANISM_RE,
    QUESTION_RE,
    SECTION_RE,
    SUBSECTION_RE,
    SUPERSCRIPT_DIGIT,
    YEAR_RE,
    Line,
    agrees,
    clean_heading,
    contents_table,
    continues_on,
    ends_contents,
    is_caps_heading,
    looks_like_entry,
    roman,
    split_lines,
    title_words,
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


MARK_RE = re.compile(r"^\s*[-•*] ")  # a bulleted line (a numbered one may be a heading)

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
        self.seen_contents = False
        self.item_mode = False  # this section reports items (A-1 …), not author-year studies

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
        h = clean_heading(s)
        if self._region_heading(i, line, h):
            return i + 1
        if self.region == Region.FRONT and (
            is_caps_heading(h) or (self.seen_contents and _heading_like(h, line))
        ):
            return i + 1  # "LITERATURE REVIEW", "Review of the literature", however worded
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

    def _region_heading(self, i: int, line: Line, h: str) -> bool:
        """Enter the region a top-level heading opens, if `h` is one."""
        name = self.section_name(line, h)
        if name is not None:
            self._enter(Region.SECTION, name)
            self.section_root = self.path
            self.subheading = None
            self.item_mode = self._has_items(i)
        elif self.region != Region.BIBLIOGRAPHY and (
            BIBLIOGRAPHY_HEADING_RE.match(h) or self._entries_follow(i, line, h)
        ):
            self._enter(Region.BIBLIOGRAPHY, "Bibliography")
        elif self.region != Region.FRONT and self._is_appendix_heading(line, h):
            m = re.match(r"^Appendix\s+(\d+)\b", h, re.I)
            self._enter(Region.APPENDIX, f"Appendix {m.group(1) if m else 1}")
        else:
            return False
        return True

    def section_name(self, line: Line, h: str) -> str | None:
        """ "Section II" for a section heading in any numbering ("Section II.", "Part 2 –",
        "2."); a bare number only where the contents table has a section of that title."""
        m = SECTION_RE.match(h)
        if not m or "\t" in line.text or MARK_RE.match(line.text):
            return None
        name = "Section " + roman(m.group(2))
        if m.group(1):
            return name
        own = self.titles.get(name)
        titles = [own] if own else [t for n, t in self.titles.items() if n.startswith("Section")]
        return name if any(agrees(m.group(3), t) for t in titles) else None

    def _has_items(self, i: int) -> bool:
        """Whether the section opened at line `i` reports items ("A-1. Author …")."""
        for line in self.lines[i + 1 :]:
            s = line.text.strip()
            if not s:
                continue
            h = clean_heading(s)
            if self.section_name(line, h) or BIBLIOGRAPHY_HEADING_RE.match(h):
                return False
            if DEFINITION_RE.match(s):
                return False
            if ITEM_RE.match(s):
                return True
        return False

    def _entries_follow(self, i: int, line: Line, h: str) -> bool:
        """A bibliography known by its entries: a short heading whose next lines (after at
        most one sub-heading) are mostly author-year-journal entries."""
        if self.region == Region.FRONT or not re.fullmatch(r"[A-Za-z][A-Za-z ,&/-]{2,60}", h):
            return False
        following = [x.text.strip() for x in self.lines[i + 1 :] if x.text.strip()][:6]
        if following and BIBLIOGRAPHY_HEADING_RE.match(clean_heading(following[0])):
            return False
        if following and not looks_like_entry(following[0]) and len(following[0].split()) <= 8:
            following = following[1:]
        return sum(1 for x in following[:4] if looks_like_entry(x)) >= 3

    def _is_appendix_heading(self, line: Line, h: str) -> bool:
        """An appendix heading: "Appendix 1 …", a heading the contents table's appendix title
        agrees with, or an upper-case heading where the template puts the appendix."""
        if re.match(r"^Appendix\s+\d+\b", h, re.I):
            return True
        title = next((t for n, t in self.titles.items() if n.startswith("Appendix")), "")
        if title and _heading_like(h, line) and agrees(h, title):
            return True
        if not is_caps_heading(h) or self.region == Region.BIBLIOGRAPHY:
            return False
        if self.region == Region.SECTION and title:
            return len(title_words(h) & title_words(title)) >= 2
        return True

    def _enter(self, region: Region, name: str) -> None:
        self.region, self.path, self.pages, self.refs = (
            region,
            SectionPath((name,)),
            self._span(name),
            (),
        )

    def _contents(self, i: int) -> int:
        """The contents heading through its last row is one block (lines such as "Literature
        review:" before the rows included); without rows, up to the next heading."""
        self.seen_contents = True
        last, rows = i, False
        for k in range(i + 1, len(self.lines)):
            s = self.lines[k].text.strip()
            if not s:
                continue
            if CONTENTS_ROW_RE.match(s):
                last, rows = k, True
            elif rows or ends_contents(s):
                break
            else:
                last = k
        self.emit(
            self.lines[i].start,
            self.lines[last].end,
            BlockKind.CONTENTS,
            path=SectionPath(("Contents",)),
            pages=PageSpan(1, 1),
            reference_keys=(),
        )
        return last + 1

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
        if m and self.item_mode:
            return self._item(i, line, m.group(1))
        h = clean_heading(s)
        m = SUBSECTION_RE.match(h)
        if m and self.item_mode and not BULLET_RE.match(line.text):
            self.path, self.refs = root.child(h), ()
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
        if h.lower() == "synopsis":
            return i + 1
        if not self.item_mode:
            return self._in_section_two(i, line, s, nxt)
        return self._body_line(i, line, s, nxt)

    def _item(self, i: int, line: Line, label: str) -> int:
        """An item heading (its citation) starts a new item; C-1 has parts (a) and (b)."""
        self.item_label = label
        text = line.text
        start = line.start + text.index(label)
        if not ITEM_PARTS_RE.match(text[text.index(label) :]):
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
            self.subheading = clean_heading(s).rstrip(":")
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
        h = clean_heading(s)
        if MECHANISM_RE.match(h) and len(h.split()) <= 12 and not self._in_list(i):
            self.path = SectionPath((self.section_root_name(), h))
            self.mechanism_path = self.path
            return i + 1
        if h.lower() == "possible other actions:":
            self.path = self.mechanism_path.child("Possible other actions")
            return i + 1
        return self._body_line(i, line, s, nxt)

    def section_root_name(self) -> str:
        return self.path.parts[0] if self.path.parts else "Appendix 1"

    def _in_list(self, i: int) -> bool:
        """A numbered line beside another list line: "1. local anaesthetic effects" in a list,
        not mechanism 1's heading."""
        near = [self.lines[k].text for k in (i - 1, i + 1) if 0 <= k < len(self.lines)]
        return bool(BULLET_RE.match(self.lines[i].text)) and any(
            x.strip() and BULLET_RE.match(x) for x in near
        )

    def _in_bibliography(self, i: int, line: Line, s: str, nxt: Line | None) -> int:
        h = clean_heading(s)
        is_heading = not re.search(r"\d", h) and len(h) < 60 and not AUTHOR_START_RE.match(h)
        if is_heading:
            self.subheading = h
            self.path = SectionPath(("Bibliography", h))
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


def _heading_like(h: str, line: Line) -> bool:
    """Short, not a sentence, not a list item or a quotation: how any heading looks."""
    return (
        0 < len(h.split()) <= 14
        and not h.endswith((".", ",", ";"))
        and not MARK_RE.match(line.text)
        and not h.startswith(("“", '"', "("))
    )
