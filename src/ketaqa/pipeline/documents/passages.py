"""Turn structure blocks into `Passage`s, the verbatim units a user is shown.

A passage is a bullet, a run of short bullets, a lead-in with what it introduces, or a sentence
group of at most ~120 words. Its text is always `document.text[start:end]`; the section path,
pages, references and footnotes travel beside it, never inside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ketaqa.pipeline.documents.corpus import Corpus, Document, Reference
from ketaqa.pipeline.documents.outline import (
    ENDS_MID_SENTENCE_RE,
    MAX_WORDS,
    Block,
    BlockKind,
    Outline,
    PageSpan,
    SectionPath,
)
from ketaqa.pipeline.documents.structure import parse_document

CHUNKER_VERSION = "statement-v4"  # v4: PDF headings wrapped across a page, fallback cut per item
SHORT_BULLET_WORDS = 25  # bullets up to this long are grouped with their neighbours
BULLET_RUN_WORDS = 60  # ... into runs of at most this many words


@dataclass(frozen=True)
class Footnote:
    mark: str
    text: str
    passage_id: str


@dataclass(frozen=True)
class Passage:
    id: str
    doc_id: str
    source: str  # "statement" | "abstract" | "document"
    text: str  # verbatim: document.text[start:end]
    start: int
    end: int
    section: SectionPath
    pages: PageSpan
    kind: str  # a BlockKind value, or several joined by "+" for a group of blocks
    reference_keys: tuple[str, ...] = ()
    footnotes: tuple[Footnote, ...] = ()
    prev_id: str | None = None
    next_id: str | None = None
    context: str = ""  # title of the enclosing region, for indexing only

    @property
    def reference_key(self) -> str | None:
        return self.reference_keys[0] if self.reference_keys else None

    def index_text(self, references: dict[str, Reference]) -> str:
        """Contextual text for indexing: section path and cited titles, then the passage.

        Only `text` is ever shown; this is what the retrievers see.
        """
        cited = [references[k] for k in self.reference_keys if k in references]
        context = [str(self.section), self.context, *(f"{r.short}. {r.title}" for r in cited)]
        context = [c for c in context if c]
        return " | ".join([*context, self.text])


def word_count(text: str) -> int:
    return len(text.split())


# ---------------------------------------------------------------------------------------------
# Sentences: used for splitting long blocks here and for highlights in the answer stage.

_NO_BREAK_BEFORE = re.compile(
    r"(?:\bet al|\be\.g|\bi\.e|\bvs|\bDr|\bincl|\bapprox|\bNo|\bFig|\bi\.v|\bs\.c|\b[A-Z]"
    r"|\(pp?)\.$"  # "(p. 537)" and "(pp. 2–6)" are page references, not sentence ends
)
_BOUNDARY = re.compile(r"(?<=[.!?])[”\"’)\]]*\s+(?=[“\"(\[]?[A-Z0-9])")
# A quotation's page reference ends its sentence: "… certainty).” (p. 537) Next sentence."
_AFTER_PAGE_REF = re.compile(r"(?<=\))\s+(?=[“\"]?[A-Z])")
_PAGE_REF_END = re.compile(r"\(pp?\.\s*[0-9][0-9–-]*\)$")


def split_sentences(text: str, base: int = 0) -> list[tuple[int, int]]:
    """Sentence spans `(start, end)` in `text`, offset by `base`; never loses a character."""
    spans = []
    start = 0
    page_ends = (
        m for m in _AFTER_PAGE_REF.finditer(text) if _PAGE_REF_END.search(text, 0, m.start())
    )
    for m in sorted((*_BOUNDARY.finditer(text), *page_ends), key=lambda m: m.start()):
        head = text[start : m.start()]
        if m.start() < start or _NO_BREAK_BEFORE.search(head.rstrip('”"’)]')):
            continue
        end = m.start() + len(m.group(0).rstrip())
        spans.append((start, end))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    out = []
    for s, e in spans:
        seg = text[s:e]
        ls = len(seg) - len(seg.lstrip())
        rs = len(seg) - len(seg.rstrip())
        if seg.strip():
            out.append((base + s + ls, base + e - rs))
    return out


def line_spans(text: str, base: int = 0) -> list[tuple[int, int]]:
    """Non-empty lines (bullets) as spans, without bullet markers."""
    out = []
    pos = 0
    for line in text.split("\n"):
        m = re.match(r"^\s*(?:[-•] )?", line)
        lead = m.end() if m else 0
        body = line[lead:].rstrip()
        if body.strip():
            out.append((base + pos + lead, base + pos + lead + len(body)))
        pos += len(line) + 1
    return out


# Kinds highlighted whole: a citation or a heading has no sentence to pick out.
WHOLE_UNIT_KINDS = frozenset(
    {BlockKind.ITEM, BlockKind.ENTRY, BlockKind.TITLE, BlockKind.EPIGRAPH, BlockKind.CONTENTS}
)
# Kinds that never join a group: each is a unit of its own (titles join only each other).
STANDALONE_KINDS = WHOLE_UNIT_KINDS | {BlockKind.FOOTNOTE}


def units(text: str, base: int = 0) -> list[tuple[int, int]]:
    """Highlightable units: each line (bullet), split further into sentences.

    A fragment that reads on into the next unit ("… should not be used in patients with",
    "Infusion rate.") is joined with it, so a highlight is never a dangling lead-in.
    """
    raw = []
    for s, e in line_spans(text, 0):
        raw.extend(split_sentences(text[s:e], s))
    out: list[tuple[int, int]] = []
    for s, e in raw:
        if out and _reads_on(text[out[-1][0] : out[-1][1]]):
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return [(base + s, base + e) for s, e in out]


def _reads_on(unit: str) -> bool:
    return (
        unit.endswith((":", ","))
        or bool(ENDS_MID_SENTENCE_RE.search(unit))
        or (word_count(unit) < 4)
    )


def passage_units(passage: Passage) -> list[tuple[int, int]]:
    """Highlight units of a passage; a citation or heading is highlighted whole."""
    if passage.kind in WHOLE_UNIT_KINDS:
        return [(0, len(passage.text))]
    return units(passage.text) or [(0, len(passage.text))]


# ---------------------------------------------------------------------------------------------


def build_passages(corpus: Corpus) -> list[Passage]:
    passages: list[Passage] = []
    for doc in corpus.documents:
        if doc.kind == "abstract":
            continue  # abstracts arrive as passages of their own (documents.abstract_corpus)
        outline = parse_document(doc, corpus.references_for(doc.doc_id))
        passages.extend(passages_from_outline(doc, outline))
    return passages


def passages_from_outline(doc: Document, outline: Outline) -> list[Passage]:
    source = "statement" if any(b.kind == BlockKind.ITEM for b in outline.blocks) else "document"
    stem = re.sub(r"\.[a-z]+$", "", doc.doc_id)
    groups = group_blocks(doc, outline.blocks)
    footnote_blocks = {b.own_mark: b for b in outline.blocks if b.kind == BlockKind.FOOTNOTE}
    raw: list[Passage] = []
    for group in groups:
        for start, end in sentence_groups(doc.text, [(b.start, b.end) for b in group]):
            marks = dict.fromkeys(m for b in group for m in b.footnote_marks)
            notes = tuple(
                Footnote(m, doc.text[fb.start : fb.end], f"{stem}:{fb.start}-{fb.end}")
                for m in marks
                if (fb := footnote_blocks.get(m)) is not None
            )
            keys = tuple(dict.fromkeys(k for b in group for k in b.reference_keys))
            raw.append(
                Passage(
                    id=f"{stem}:{start}-{end}",
                    doc_id=doc.doc_id,
                    source=source,
                    text=doc.text[start:end],
                    start=start,
                    end=end,
                    section=group[0].path,
                    pages=_merge_pages(b.pages for b in group),
                    kind="+".join(dict.fromkeys(b.kind.value for b in group)),
                    reference_keys=keys,
                    footnotes=notes,
                    context=outline.titles.get(group[0].path.parts[0], ""),
                )
            )
    return link_neighbours(raw)


def link_neighbours(passages: list[Passage]) -> list[Passage]:
    out = []
    for i, p in enumerate(passages):
        prev_id = passages[i - 1].id if i > 0 else None
        next_id = passages[i + 1].id if i + 1 < len(passages) else None
        out.append(replace(p, prev_id=prev_id, next_id=next_id))
    return out


def _merge_pages(pages: Iterable[PageSpan]) -> PageSpan:
    pages = list(pages)
    firsts = [p.first for p in pages if p.first is not None]
    lasts = [p.last for p in pages]
    last = None if any(x is None for x in lasts) else max(x for x in lasts if x is not None)
    return PageSpan(min(firsts) if firsts else None, last)


def group_blocks(doc: Document, blocks: tuple[Block, ...]) -> list[list[Block]]:
    """Join a lead-in with what it introduces, and short bullets with their neighbours."""
    groups: list[list[Block]] = []
    for block in blocks:
        words = word_count(doc.text[block.start : block.end])
        if groups and _joins(doc, groups[-1], block, words):
            groups[-1].append(block)
        else:
            groups.append([block])
    return groups


def _joins(doc: Document, group: list[Block], block: Block, words: int) -> bool:
    last = group[-1]
    if block.path != last.path and not (last.lead_in and _is_within(block.path, last.path)):
        return False
    if block.kind == BlockKind.TITLE and last.kind == BlockKind.TITLE:
        return True
    if block.kind in STANDALONE_KINDS or last.kind in STANDALONE_KINDS:
        return False
    total = sum(word_count(doc.text[b.start : b.end]) for b in group) + words
    if last.lead_in:
        return total <= MAX_WORDS
    all_short_bullets = all(
        b.kind == BlockKind.BULLET
        and (b.lead_in or word_count(doc.text[b.start : b.end]) <= SHORT_BULLET_WORDS)
        for b in (*group, block)
        if not b.lead_in
    )
    return (
        block.kind == BlockKind.BULLET
        and words <= SHORT_BULLET_WORDS
        and all_short_bullets
        and total <= BULLET_RUN_WORDS
    )


def _is_within(path: SectionPath, parent: SectionPath) -> bool:
    return path.parts[: len(parent.parts)] == parent.parts


def sentence_groups(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The run from the first span's start to the last one's end when it has at most MAX_WORDS,
    else the spans' sentences packed into consecutive groups of at most MAX_WORDS each.

    Statement blocks and abstract sections share this, so both are cut the same way. A sentence
    longer than the limit (a list with no full stops, a block a failed parse left whole) is cut
    at its lines, then at words, so no group is ever longer than MAX_WORDS.
    """
    start, end = spans[0][0], spans[-1][1]
    if word_count(text[start:end]) <= MAX_WORDS:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    for span_start, span_end in spans:
        for s, e in split_sentences(text[span_start:span_end], span_start):
            if pieces and word_count(text[pieces[-1][0] : e]) <= MAX_WORDS:
                pieces[-1] = (pieces[-1][0], e)
            else:
                pieces.append((s, e))
    return [cut for s, e in pieces for cut in _within_limit(text, s, e)]


def _within_limit(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """`[start, end)` as spans of at most MAX_WORDS: lines packed together, a longer line cut
    between words. Each span is verbatim and trimmed."""
    if word_count(text[start:end]) <= MAX_WORDS:
        return [(start, end)]
    units: list[tuple[int, int]] = []
    for s, e in _spans_of(text, start, end, r"[^\n]+"):
        if word_count(text[s:e]) <= MAX_WORDS:
            units.append((s, e))
        else:
            units.extend(_spans_of(text, s, e, r"\S+"))
    out: list[tuple[int, int]] = []
    for s, e in units:
        if out and word_count(text[out[-1][0] : e]) <= MAX_WORDS:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _spans_of(text: str, start: int, end: int, pattern: str) -> list[tuple[int, int]]:
    """Trimmed, non-blank matches of `pattern` in `text[start:end]`, as absolute spans."""
    out = []
    for m in re.finditer(pattern, text[start:end]):
        piece = m.group(0)
        lead, trail = len(piece) - len(piece.lstrip()), len(piece) - len(piece.rstrip())
        if piece.strip():
            out.append((start + m.start() + lead, start + m.end() - trail))
    return out


def listed_only_authors(
    passages: Sequence[Passage], references: dict[str, Reference]
) -> frozenset[str]:
    """Lower-cased surnames of the authors of papers the corpus only lists.

    A paper is reported when a passage other than a bibliography entry cites it (the statement
    or an imported abstract); the rest are only listed. A question about such a paper's
    findings ("marchetti oral ketamine series, mean daily dose?") names something the corpus
    cannot answer however well its words match the entry. A surname shared with a reported
    paper, or used anywhere outside the bibliography, is left out."""
    body = [p for p in passages if p.kind != BlockKind.ENTRY]
    reported = {k for p in body for k in p.reference_keys}
    body_words = {w.lower() for p in body for w in re.findall(r"[A-Za-z][\w'’-]*", p.text)}
    listed: set[str] = set()
    known: set[str] = set()
    for ref in references.values():
        (known if ref.key in reported else listed).update(_surnames(ref.authors))
    return frozenset(listed - known - body_words)


def _surnames(authors: str) -> set[str]:
    """ "Schwartzman RJ, van Hilten JJ, Schwenk, Eric et al." -> schwartzman, hilten, schwenk,
    eric: the last capitalised word of each name before its initials."""
    names = set()
    for name in re.split(r",|\bet al\b\.?", authors):
        words = [
            w for w in name.split() if w[:1].isupper() and not re.fullmatch(r"[A-Z]{1,4}\.?", w)
        ]
        if words and len(words[-1]) >= 3:
            names.add(words[-1].lower())
    return names
