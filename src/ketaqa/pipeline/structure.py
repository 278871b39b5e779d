"""Stage 2: recover a document's structure: headings, item labels, footnotes, citations, pages.

The position statement is parsed by its real layout (Section I › A–D › items A-1…D-2, the A-2
guideline questions, Section II's studies, the definitions and dates, Appendix 1's mechanisms,
the Bibliography) into verbatim `Block`s that know their section path, printed pages and the
reference they report. Other documents fall back to paragraphs under Markdown headings.

Blocks are spans `[start, end)` of the document text: nothing here edits or rewrites the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ketaqa.pipeline.corpus import Document, Reference

SUPERSCRIPTS = "¹²³⁴⁵⁶⁷⁸⁹"
SUPERSCRIPT_DIGIT = {c: str(i) for i, c in enumerate(SUPERSCRIPTS, start=1)}

GUIDELINE_QUESTION_NAMES = {
    # Short labels for the A-2 guideline questions, used only in section paths.
    "i": "patients and conditions",
    "ii": "contraindications",
    "iii": "dose and duration",
    "iv": "oral ketamine and other NMDA antagonists",
    "v": "question (v)",
    "vi": "question (vi)",
    "vii": "rescue medications",
    "viii": "positive treatment response",
}


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
    kind: (
        str  # title | epigraph | contents | item | question | bullet | paragraph | footnote | entry
    )
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


# ---------------------------------------------------------------------------------------------
# Line-level patterns of the position statement.

SECTION_RE = re.compile(r"^Section (I{1,3}|IV)\.\s+\S")
SUBSECTION_RE = re.compile(r"^([A-D])\. (\S.*)$")
ITEM_RE = re.compile(r"^(?:- )?([A-D]-\d)\.(?:\*\*)?\s+(.*)$")
ITEM_PART_RE = re.compile(r"^\((a|b)\)\s+")
QUESTION_RE = re.compile(r"^(?:- )?\((i{1,3}|iv|v|vi{1,3})\)([¹²³⁴⁵⁶⁷⁸⁹]?)\s+(.*)$")
FOOTNOTE_RE = re.compile(r"^([¹²³⁴⁵⁶⁷⁸⁹])\s+\S")
BULLET_RE = re.compile(r"^(\s*)- ")
CONTENTS_ROW_RE = re.compile(
    r"^(Section [IV]+|Appendix \d+|Bibliography)[.:]?\t+(.*?)\t+Page (\d+)"
)
MECHANISM_RE = re.compile(r"^(\d)(?:\.| \([ab]\))\s+\S")
AUTHOR_START_RE = re.compile(r"^\**[A-Z][A-Za-z'\-]+(?: [A-Z][a-z]+)?,? (?:[A-Z]{1,3}\b|Eric)")
DEFINITION_RE = re.compile(r"^(POLICY|POSITION STATEMENT|GUIDELINE) – ")
DATES_RE = re.compile(r"^(Promulgated|Reviewed|Date of Current Document):")
BRACKET_CITE_RE = re.compile(r"\[([A-Z][^\]]*?\d{4})\]")
YEAR_RE = re.compile(r"\b(19|20)\d\d\b")


# A line ending on one of these words was cut mid-sentence ("... should be avoided in").
ENDS_MID_SENTENCE_RE = re.compile(r"\b(?:in|with|and|or|of|to|the|a|for|by)$")


def _continues(body: str, nxt: _Line | None) -> bool:
    """A line cut mid-sentence ("... should be avoided in") whose next line reads on from it."""
    if nxt is None or not ENDS_MID_SENTENCE_RE.search(body):
        return False
    following = BULLET_RE.sub("", nxt.text).strip()
    return bool(following) and following[0].islower()


def is_position_statement(text: str) -> bool:
    """The statement has a contents table, Section I and a Bibliography."""
    return bool(
        re.search(r"^CONTENTS\s*$", text, re.M)
        and re.search(r"^Section I\.", text, re.M)
        and re.search(r"^BIBLIOGRAPHY\s*$", text, re.M)
    )


def parse_document(doc: Document, references: tuple[Reference, ...]) -> Outline:
    if doc.kind in ("txt", "md") and is_position_statement(doc.text):
        return StatementParser(doc, references).parse()
    return parse_generic(doc)


# ---------------------------------------------------------------------------------------------
# Reference linking, driven by `cited_in` in references.json.


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\s*/\s*", " / ", text)).strip().lower()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class ReferenceLinker:
    def __init__(self, references: tuple[Reference, ...]):
        self.references = references

    def by_citation(self, where: str) -> list[Reference]:
        """References whose `cited_in` names this place exactly (normalised)."""
        want = _norm(where)
        return [r for r in self.references if any(_norm(c) == want for c in r.cited_in)]

    def best_match(self, candidates: list[Reference], text: str) -> Reference | None:
        """The candidate whose title and first author best match a verbatim citation."""
        words = _words(text)
        scored = []
        for ref in candidates:
            title = _words(ref.title) or {"_"}
            score = len(title & words) / len(title)
            if ref.first_author_surname.lower().split()[0] in words:
                score += 0.5
            scored.append((score, ref.key, ref))
        scored.sort(key=lambda s: (-s[0], s[1]))
        if scored and scored[0][0] >= 0.5:
            return scored[0][2]
        return None

    def by_citation_prefix(self, prefix: str) -> list[str]:
        """Keys of references cited at a place whose description starts with `prefix`."""
        return [r.key for r in self.references if any(c.startswith(prefix) for c in r.cited_in)]

    def in_text(self, text: str) -> list[Reference]:
        """Links for in-text mentions such as "[Visser & Schug, 2006]"."""
        found = []
        for mention in BRACKET_CITE_RE.findall(text):
            for ref in self.references:
                if any(f"[{mention}]" in c for c in ref.cited_in) and ref not in found:
                    found.append(ref)
        return found


# ---------------------------------------------------------------------------------------------


@dataclass
class _Line:
    start: int
    end: int  # excluding the newline
    text: str


def _lines(text: str) -> list[_Line]:
    out, pos = [], 0
    for raw in text.split("\n"):
        out.append(_Line(pos, pos + len(raw), raw))
        pos += len(raw) + 1
    return out


class StatementParser:
    """A single pass over the statement's lines, keeping the current place in the outline."""

    def __init__(self, doc: Document, references: tuple[Reference, ...]):
        self.doc = doc
        self.linker = ReferenceLinker(references)
        self.lines = _lines(doc.text)
        self.blocks: list[Block] = []
        self.problems: list[str] = []
        self.page_starts = self._contents_pages()
        # current state
        self.region = "front"
        self.path = SectionPath(("Title",))
        self.pages = PageSpan(1, 1)
        self.refs: tuple[str, ...] = ()
        self.subheading: str | None = None  # Section II / Bibliography sub-heading

    # -- pages ------------------------------------------------------------------------------
    def _contents_pages(self) -> dict[str, int]:
        pages = {}
        for line in self.lines:
            m = CONTENTS_ROW_RE.match(line.text)
            if m:
                pages[m.group(1)] = int(m.group(3))
        return pages

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
    def emit(self, start: int, end: int, kind: str, **kw) -> Block:
        text = self.doc.text[start:end]
        # trim surrounding white space so the block is a clean verbatim span
        lead = len(text) - len(text.lstrip())
        trail = len(text) - len(text.rstrip())
        start, end = start + lead, end - trail
        marks = tuple(dict.fromkeys(c for c in self.doc.text[start:end] if c in SUPERSCRIPT_DIGIT))
        if kind == "footnote":
            marks = tuple(m for m in marks if m != kw.get("own_mark"))
        refs = kw.pop("reference_keys", self.refs)
        in_text = tuple(r.key for r in self.linker.in_text(self.doc.text[start:end]))
        block = Block(
            start=start,
            end=end,
            kind=kind,
            path=kw.pop("path", self.path),
            pages=kw.pop("pages", self.pages),
            reference_keys=tuple(dict.fromkeys((*refs, *in_text))),
            footnote_marks=marks,
            **kw,
        )
        self.blocks.append(block)
        return block

    def link(self, where: str, text: str) -> tuple[str, ...]:
        candidates = self.linker.by_citation(where)
        if len(candidates) == 1:
            return (candidates[0].key,)
        ref = self.linker.best_match(candidates, text)
        if ref is None:
            self.problems.append(f"no reference record for {where!r}: {text[:60]!r}")
            return ()
        return (ref.key,)

    # -- the pass ---------------------------------------------------------------------------
    def parse(self) -> Outline:
        lines = self.lines
        i = 0
        while i < len(lines):
            line = lines[i]
            text = line.text
            stripped = text.strip()
            if not stripped:
                i += 1
                continue
            nxt = self._next_nonblank(i)
            i = self.handle(i, line, stripped, nxt)
        return Outline(
            self.doc.doc_id, self._attach_footnotes(), tuple(self.problems), self._titles()
        )

    def _titles(self) -> dict[str, str]:
        titles = {}
        for line in self.lines:
            m = CONTENTS_ROW_RE.match(line.text)
            if m and m.group(2).strip():
                titles[m.group(1)] = m.group(2).strip()
        return titles

    def _next_nonblank(self, i: int) -> _Line | None:
        for line in self.lines[i + 1 :]:
            if line.text.strip():
                return line
        return None

    def handle(self, i: int, line: _Line, s: str, nxt: _Line | None) -> int:
        # ---- top-level regions
        if s == "CONTENTS":
            return self._contents(i)
        if s == "LITERATURE REVIEW":
            return i + 1
        m = SECTION_RE.match(s)
        if m:
            name = f"Section {m.group(1)}"
            self.region, self.path, self.pages, self.refs = (
                "section",
                SectionPath((name,)),
                self._span(name),
                (),
            )
            self.section_root = self.path
            self.subheading = None
            return i + 1
        if s.startswith("PROPOSED MECHANISMS"):
            self.region, self.path, self.pages, self.refs = (
                "appendix",
                SectionPath(("Appendix 1",)),
                self._span("Appendix 1"),
                (),
            )
            return i + 1
        if s == "BIBLIOGRAPHY":
            self.region, self.path, self.pages, self.refs = (
                "bibliography",
                SectionPath(("Bibliography",)),
                self._span("Bibliography"),
                (),
            )
            return i + 1
        if DEFINITION_RE.match(s):
            self.region, self.refs = "document-info", ()
            self.pages = self._between("Section II", "Appendix 1")
            self.emit(
                line.start,
                line.end,
                "paragraph",
                path=SectionPath(("Document information", "Definitions")),
            )
            return i + 1
        if FOOTNOTE_RE.match(s):
            self.emit(
                line.start,
                line.end,
                "footnote",
                own_mark=s[0],
                path=SectionPath(("Footnote " + SUPERSCRIPT_DIGIT[s[0]],)),
            )
            return i + 1

        # ---- per region
        handler = getattr(self, f"_in_{self.region.replace('-', '_')}")
        return handler(i, line, s, nxt)

    def _emit_run(self, i: int, kind: str) -> int:
        """Emit consecutive non-blank lines up to the next blank line as one block."""
        j = i
        while j + 1 < len(self.lines) and self.lines[j + 1].text.strip():
            j += 1
        self.emit(self.lines[i].start, self.lines[j].end, kind)
        return j + 1

    # front matter: title, subtitle, epigraph
    def _in_front(self, i: int, line: _Line, s: str, nxt: _Line | None) -> int:
        if s.startswith("“") or s.startswith('"'):
            # epigraph quote + its attribution line
            end = nxt.end if nxt is not None else line.end
            self.emit(
                line.start,
                end,
                "epigraph",
                path=SectionPath(("Epigraph",)),
                reference_keys=self.link("Epigraph", ""),
            )
            return self.lines.index(nxt) + 1 if nxt is not None else i + 1
        self.emit(line.start, line.end, "title", path=SectionPath(("Title",)))
        return i + 1

    def _contents(self, i: int) -> int:
        """The contents table, up to the "LITERATURE REVIEW" heading, is one block."""
        j = i
        while j + 1 < len(self.lines) and self.lines[j + 1].text.strip() != "LITERATURE REVIEW":
            j += 1
        self.emit(
            self.lines[i].start,
            self.lines[j].end,
            "contents",
            path=SectionPath(("Contents",)),
            pages=PageSpan(1, 1),
            reference_keys=(),
        )
        return j + 1

    def _in_section(self, i: int, line: _Line, s: str, nxt: _Line | None) -> int:
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
        if m and getattr(self, "item_label", None) == "A-2":
            name = f"({m.group(1)}) {GUIDELINE_QUESTION_NAMES.get(m.group(1), '')}".strip()
            self.path = self.item_path.child(name)
            start = line.start + line.text.index("(")
            self.emit(start, line.end, "question", lead_in=True)
            return i + 1
        if s == "Synopsis":
            return i + 1
        if root.parts[0] == "Section II":
            return self._in_section_two(i, line, s, nxt)
        return self._body_line(i, line, s, nxt)

    def _item(self, i: int, line: _Line, label: str) -> int:
        """An item heading (its citation) starts a new item; C-1 has parts (a) and (b)."""
        self.item_label = label
        text = line.text
        start = line.start + text.index(label)
        part = ITEM_PART_RE.search(text[text.index(label) :])
        if part or label == "C-1":
            # C-1.** (a) ... on this line, then (b) ... on the next line
            keys_a = self.link(f"{label}(a)", text)
            nxt_line = self.lines[i + 1]
            keys_b = (
                self.link(f"{label}(b)", nxt_line.text)
                if ITEM_PART_RE.match(nxt_line.text.strip())
                else ()
            )
            keys = (*keys_a, *keys_b)
            self.refs = keys
            self.item_path = self.subsection.child(f"{label} {self._shorts(keys)}")
            self.path = self.item_path
            self.emit(start, line.end, "item", reference_keys=keys_a)
            if keys_b:
                self.emit(nxt_line.start, nxt_line.end, "item", reference_keys=keys_b)
                return i + 2
            return i + 1
        keys = self.link(label, text)
        self.refs = keys
        self.item_path = self.subsection.child(f"{label} {self._shorts(keys)}")
        self.path = self.item_path
        self.emit(start, line.end, "item")
        return i + 1

    def _shorts(self, keys: tuple[str, ...]) -> str:
        refs = [r for k in keys for r in self.linker.references if r.key == k]
        return " / ".join(r.short for r in refs)

    def _body_line(self, i: int, line: _Line, s: str, nxt: _Line | None) -> int:
        """A bullet or a paragraph under the current path."""
        b = BULLET_RE.match(line.text)
        if b:
            indent = 1 + (1 if b.group(1) else 0)
            start = line.start + b.end()
            body = line.text[b.end() :].strip()
            lead = (body.endswith((":", ",")) and len(body.split()) <= 8) or _continues(body, nxt)
            self.emit(start, line.end, "bullet", indent=indent, lead_in=lead)
            return i + 1
        lead = s.endswith(":") and len(s.split()) <= 12
        if lead and nxt is not None and not BULLET_RE.match(nxt.text) and len(s.split()) <= 4:
            lead = False
        self.emit(line.start, line.end, "paragraph", lead_in=lead or s.endswith(" with"))
        return i + 1

    def _in_section_two(self, i: int, line: _Line, s: str, nxt: _Line | None) -> int:
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
            self.path = root.child(self.subheading).child(self._shorts(keys) or "study")
            self.emit(line.start, line.end, "item")
            return i + 1
        self.refs = ()
        self.path = root.child(self.subheading) if self.subheading else root
        return self._body_line(i, line, s, nxt)

    def _in_document_info(self, i: int, line: _Line, s: str, nxt: _Line | None) -> int:
        if DATES_RE.match(s):
            self.path = SectionPath(("Document information", "Dates"))
            return self._emit_run(i, "paragraph")
        if s.startswith("©") or s.startswith("This work is copyright") or s.startswith("Website"):
            self.path = SectionPath(("Document information", "Copyright"))
        else:
            self.path = SectionPath(("Document information", "Disclaimer"))
        self.emit(line.start, line.end, "paragraph")
        return i + 1

    def _in_appendix(self, i: int, line: _Line, s: str, nxt: _Line | None) -> int:
        if MECHANISM_RE.match(s) and len(s.split()) <= 12:
            self.path = SectionPath(("Appendix 1", s))
            self.mechanism_path = self.path
            return i + 1
        if s == "Possible other actions:":
            self.path = self.mechanism_path.child("Possible other actions")
            return i + 1
        return self._body_line(i, line, s, nxt)

    def _in_bibliography(self, i: int, line: _Line, s: str, nxt: _Line | None) -> int:
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
        self.emit(line.start, end_line.end, "entry", reference_keys=keys)
        return j + 1

    # -- footnotes --------------------------------------------------------------------------
    def _attach_footnotes(self) -> tuple[Block, ...]:
        """Give each footnote the path and reference of the block that refers to it."""
        referrers: dict[str, Block] = {}
        for block in self.blocks:
            if block.kind != "footnote":
                for mark in block.footnote_marks:
                    referrers.setdefault(mark, block)
        out = []
        for block in self.blocks:
            if block.kind == "footnote" and block.own_mark in referrers:
                ref_block = referrers[block.own_mark]
                number = SUPERSCRIPT_DIGIT[block.own_mark]
                keys = self.linker.by_citation_prefix(f"Footnote {number}") or list(
                    ref_block.reference_keys
                )
                block = Block(
                    start=block.start,
                    end=block.end,
                    kind="footnote",
                    path=ref_block.path.child(f"Footnote {number}"),
                    pages=ref_block.pages,
                    reference_keys=tuple(keys),
                    own_mark=block.own_mark,
                )
            out.append(block)
        return tuple(out)


# ---------------------------------------------------------------------------------------------
# Any other document: paragraphs under Markdown headings, pages from the PDF.

HEADING_MD_RE = re.compile(r"^(#{1,6})\s+(.*)$")


def parse_generic(doc: Document) -> Outline:
    title = doc.doc_id
    stack: list[tuple[int, str]] = []
    blocks = []
    pos = 0
    for para in re.split(r"(\n\s*\n)", doc.text):
        start = pos
        pos += len(para)
        if not para.strip() or re.fullmatch(r"\n\s*\n", para):
            continue
        lead = len(para) - len(para.lstrip())
        trail = len(para) - len(para.rstrip())
        start, end = start + lead, start + len(para) - trail
        body = doc.text[start:end]
        m = HEADING_MD_RE.match(body) if doc.kind == "md" else None
        if m and "\n" not in body:
            level = len(m.group(1))
            stack = [(lv, name) for lv, name in stack if lv < level] + [(level, m.group(2))]
            continue
        path = SectionPath((title, *(name for _, name in stack)))
        page = doc.page_at(start)
        last = doc.page_at(end - 1)
        blocks.append(Block(start, end, "paragraph", path, PageSpan(page, last)))
    return Outline(doc.doc_id, tuple(blocks))


def document_citation(doc: Document) -> str:
    """How to cite a document that is not a study: its own title, publisher and date."""
    lines = [line.strip() for line in doc.text.splitlines() if line.strip()]
    title = lines[0] if lines else doc.doc_id
    subtitle = lines[1] if len(lines) > 1 and len(lines[1].split()) <= 4 else ""
    publisher = re.search(r"^© Copyright \d{4} – ([^.]+?)\. ", doc.text, re.M)
    date = re.search(r"^Date of Current Document: (.+)$", doc.text, re.M)
    parts = [p for p in (publisher and publisher.group(1), title, subtitle) if p]
    citation = ". ".join(parts)
    return f"{citation}. {date.group(1).strip()}" if date else citation
