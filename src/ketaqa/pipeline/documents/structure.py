"""Recover a document's structure: headings, item labels, footnotes, citations, pages.

The position statement is parsed by its real layout (`documents.statement`) into verbatim
`Block`s that know their section path, printed pages and the reference they report. Other
documents, and a statement whose sections cannot be found, fall back to paragraphs under their
own headings (Markdown, bold or larger PDF type, upper case), with pages from the PDF and the
references the paragraphs cite: an item heading ("A-1. Orhurhu V, …") and the lines and
paragraphs after it cite its study (every study it names: C-1's "(a)" and "(b)"), and an in-text
mention ("[Visser & Schug, 2006]") its record. A paragraph holding several item headings (the
C section lists its items as bullets) is cut before each, so every part cites its own item.

Blocks are spans `[start, end)` of the document text: nothing here edits or rewrites the source.
"""

from __future__ import annotations

import re
from itertools import takewhile

from ketaqa.pipeline.documents.corpus import Document, Reference
from ketaqa.pipeline.documents.layout import ITEM_PART_RE, ITEM_RE, is_position_statement
from ketaqa.pipeline.documents.linking import ReferenceLinker
from ketaqa.pipeline.documents.outline import Block, BlockKind, Outline, PageSpan, SectionPath
from ketaqa.pipeline.documents.statement import StatementParser
from ketaqa.pipeline.documents.structure_report import structure_summary

__all__ = [
    "document_citation",
    "is_plain_heading",
    "parse_document",
    "parse_generic",
    "structure_summary",
]

HEADING_MD_RE = re.compile(r"^(#{1,6})\s+(.*)$")


def parse_document(doc: Document, references: tuple[Reference, ...]) -> Outline:
    if doc.kind in ("txt", "md", "pdf") and is_position_statement(doc.text):
        outline = StatementParser(doc, references).parse()
        if found_structure(outline):
            return outline
    return parse_generic(doc, references)


def found_structure(outline: Outline) -> bool:
    """Whether the statement's parse found its sections or items; if not, the paragraphs of
    `parse_generic` serve better than what little the template's reading recovered."""
    return any(
        b.kind == BlockKind.ITEM or (b.path.parts and b.path.parts[0].startswith("Section"))
        for b in outline.blocks
    )


def parse_generic(doc: Document, references: tuple[Reference, ...] = ()) -> Outline:
    """Any other document: paragraphs under the nearest heading above, pages from the PDF.

    Headings are what the document itself marks as such: Markdown `#` lines, lines the PDF sets
    in bold or a larger size (`Document.headings`), and short upper-case lines. A heading that
    opens a paragraph (a PDF often runs the heading into the text below it) names the section
    and the rest of the paragraph is its first block."""
    title = doc.doc_id
    stack: list[tuple[int, str]] = []
    blocks = []
    pos = 0
    headings = frozenset(doc.headings)
    linker = ReferenceLinker(references)
    item_keys: tuple[str, ...] = ()  # the study of the last item heading, until a new heading
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
            item_keys = ()
            continue
        first = body.split("\n", 1)[0]
        if is_plain_heading(first, start in headings):
            stack = [(1, first.strip())]
            item_keys = ()
            rest = body[len(first) :]
            if not rest.strip():
                continue
            start += len(first) + (len(rest) - len(rest.lstrip()))
        path = SectionPath((title, *(name for _, name in stack)))
        for s, e in _item_runs(doc.text, start, end) if references else [(start, end)]:
            text = doc.text[s:e]
            item_keys = _studies(linker, text) if _opens_item(text) else item_keys
            in_text = tuple(r.key for r in linker.in_text(text)) if references else ()
            keys = tuple(dict.fromkeys((*item_keys, *in_text)))
            pages = PageSpan(doc.page_at(s), doc.page_at(e - 1))
            blocks.append(Block(s, e, BlockKind.PARAGRAPH, path, pages, keys))
    return Outline(doc.doc_id, tuple(blocks))


def _opens_item(text: str) -> bool:
    return bool(ITEM_RE.match(text.split("\n", 1)[0].strip()))


def _item_runs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """`[start, end)` cut before each line that opens an item, so the lines under each item
    heading cite its study and not the first study of the paragraph; each run trimmed."""
    cuts, pos = [start], start
    for line in text[start:end].split("\n"):
        if pos > start and ITEM_RE.match(line.strip()):
            cuts.append(pos)
        pos += len(line) + 1
    runs = []
    for a, b in zip(cuts, [*cuts[1:], end], strict=True):
        run = text[a:b]
        runs.append((a + len(run) - len(run.lstrip()), a + len(run.rstrip())))
    return runs


def _studies(linker: ReferenceLinker, run: str) -> tuple[str, ...]:
    """Every study the item heading opening `run` names: its line and the "(b) …" part lines
    under it."""
    lines = [line.strip() for line in run.split("\n")]
    return linker.studies_named([lines[0], *takewhile(ITEM_PART_RE.match, lines[1:])])


def is_plain_heading(line: str, set_apart: bool) -> bool:
    """A heading of a document outside the template: short, not a sentence, and either set
    apart by the PDF's type (bold or larger) or written in upper case."""
    words = line.split()
    if not words or len(words) > 12 or line.rstrip().endswith((".", ",", ";", ":")):
        return False
    letters = [c for c in line if c.isalpha()]
    shouting = len(letters) >= 4 and all(c.isupper() for c in letters)
    return set_apart or shouting


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
