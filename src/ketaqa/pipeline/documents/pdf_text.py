"""A PDF read like its text: running headers and footers dropped, wrapped lines rejoined.

pypdf's text visitor reports each text run with its position and font. Runs are gathered into
printed lines; lines repeated at the top or bottom of most pages (a running header with the
document code, a "Page N of M" footer) are dropped, and the footer's number becomes the printed
page. Wrapped lines are joined into one logical line (a paragraph or a bullet); a larger gap
leaves a blank line, as in the .txt. Across a page break there is no gap to read: a line runs on
when it reads on (lower case, after a hyphen or comma), or when a bold line continues a bold
line that filled its measure (a heading wrapped at the foot of a page). Words hyphenated across
lines are rejoined, ligatures normalised and doubled spaces collapsed. That normalised text is
the document: passages are verbatim spans of it, and their pages come from the page breaks
recorded while joining.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

LIGATURES = {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
BULLET_GLYPHS = "•◦▪‣●○■–"
PAGE_NUMBER_RE = re.compile(r"^(?:Page\s+)?(\d{1,4})(?:\s+(?:of|/)\s+\d{1,4})?$", re.I)
MARGIN = 0.09  # top/bottom share of the page where running heads and feet stand
FULL = 0.85  # a line this share as long as its type's usual wrapped line was cut by the margin
HYPHEN_PREFIXES = frozenset(
    "non anti re pre post co sub semi multi self well long short high low intra inter over "
    "under mid extra counter cross ex".split()
)


@dataclass
class PrintedLine:
    """One printed line: its runs joined, where it stands and how it is set."""

    page: int  # physical page, from 1
    x: float
    y: float
    size: float
    bold: bool
    text: str
    bullet: bool = False
    depth: int = 0


@dataclass
class PdfText:
    text: str
    page_breaks: list[tuple[int, int]]  # (offset, printed page)
    headings: list[int] = field(default_factory=list)  # offsets of bold/large logical lines


def normalise(text: str) -> str:
    """Ligatures, soft hyphens and non-breaking spaces as plain text; runs of spaces as one."""
    for lig, plain in LIGATURES.items():
        text = text.replace(lig, plain)
    text = text.replace("\u00ad", "").replace("\u00a0", " ")
    return re.sub(r" {2,}", " ", text)


def _runs(page) -> list[tuple[float, float, float, bool, str]]:
    runs = []

    def visit(text, cm, tm, font_dict, font_size):
        if not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        size = font_size * abs(tm[3] or 1) * abs(cm[3] or 1)
        font = str((font_dict or {}).get("/BaseFont", ""))
        bold = bool(re.search(r"bold|black|heavy|semibold", font, re.I))
        runs.append((x, y, size, bold, text.replace("\n", " ")))

    page.extract_text(visitor_text=visit)
    return runs


def printed_lines(reader) -> list[PrintedLine]:
    """Runs of each page grouped by baseline, top to bottom; far-apart runs joined by a tab."""
    lines: list[PrintedLine] = []
    for number, page in enumerate(reader.pages, start=1):
        rows: dict[int, list[tuple[float, float, float, bool, str]]] = {}
        for run in _runs(page):
            rows.setdefault(round(run[1]), []).append(run)
        for y in sorted(rows, reverse=True):
            row = sorted(rows[y], key=lambda r: r[0])
            text, end_x = "", None
            for x, _, size, _, chunk in row:
                if end_x is not None:
                    text += "\t" if x - end_x > 3 * size else " "
                text += chunk.strip()
                end_x = x + 0.5 * size * len(chunk.strip())
            first = row[0]
            size = max(r[2] for r in row)
            bold = all(r[3] for r in row)
            lines.append(PrintedLine(number, first[0], first[1], size, bold, normalise(text)))
    return lines


def running_lines(lines: list[PrintedLine], heights: dict[int, float]) -> set[int]:
    """Indexes of running headers and footers: the same text (digits aside) near the top or
    bottom of at least half the pages."""
    pages = len(heights)
    key = {}
    for i, line in enumerate(lines):
        h = heights[line.page]
        if line.y > h * (1 - MARGIN) or line.y < h * MARGIN:
            key[i] = re.sub(r"\d+", "#", line.text)
    counts = Counter(key.values())
    need = max(2, (pages + 1) // 2)
    return {i for i, k in key.items() if counts[k] >= need or PAGE_NUMBER_RE.match(lines[i].text)}


def read_pdf_text(reader) -> PdfText:
    """The normalised text of a PDF, with printed-page breaks and heading offsets."""
    lines = printed_lines(reader)
    heights = {n: float(p.mediabox.height) for n, p in enumerate(reader.pages, start=1)}
    running = running_lines(lines, heights)
    printed = _printed_pages(lines, running, len(heights))
    body = [line for i, line in enumerate(lines) if i not in running and line.text.strip()]
    _mark_bullets(body)
    return _join(body, printed, _lexicon(body))


def _printed_pages(lines: list[PrintedLine], running: set[int], pages: int) -> dict[int, int]:
    """Physical page -> printed page, from the footer's number where it has one."""
    out = {n: n for n in range(1, pages + 1)}
    for i in running:
        m = re.search(r"(?:^|\bPage\s+)(\d{1,4})(?:\s+(?:of|/)\s+\d{1,4})?\s*$", lines[i].text)
        if m and (PAGE_NUMBER_RE.match(lines[i].text) or "page" in lines[i].text.lower()):
            out[lines[i].page] = int(m.group(1))
    return out


def _mark_bullets(body: list[PrintedLine]) -> None:
    """A line opening on a bullet glyph is a bullet; its depth is how far it is indented."""
    xs = []
    for line in body:
        if line.text[:1] in BULLET_GLYPHS and line.text[1:2] == " ":
            line.bullet = True
            xs.append(line.x)
    if not xs:
        return
    levels = sorted({round(x) for x in xs})
    for line in body:
        if line.bullet:
            line.depth = levels.index(round(line.x))


def _lexicon(body: list[PrintedLine]) -> set[str]:
    return {w.lower() for line in body for w in re.findall(r"[\w-]+", line.text)}


def dehyphenate(head: str, tail: str, words: set[str]) -> str:
    """Join "…psychotomi-" and "metic…": drop the hyphen unless the compound is a real one."""
    left = re.search(r"([\w-]+)-$", head)
    right = re.match(r"(\w+)", tail)
    if not left or not right:
        return head + tail
    a, b = left.group(1).lower(), right.group(1).lower()
    last = a.split("-")[-1]
    keep = (
        f"{a}-{b}" in words
        or (f"{a}{b}" not in words and last in HYPHEN_PREFIXES)
        or (f"{a}{b}" not in words and last in words and b in words and len(last) > 2)
    )
    return head + tail if keep else head[:-1] + tail


def _join(body: list[PrintedLine], printed: dict[int, int], words: set[str]) -> PdfText:
    """Wrapped lines into logical lines; a new logical line on a bullet, a change of type, or
    a gap wider than the paragraph's line pitch; a blank line on a wide gap."""
    pitch = _pitch(body)
    measures = _measures(body, pitch)
    out = PdfText("", [])
    prev: PrintedLine | None = None
    for line in body:
        sep = _separator(prev, line, pitch, measures)
        new_page = prev is None or line.page != prev.page
        if sep is None and out.text.endswith("-") and line.text[:1].islower():
            start = len(out.text) - 1
            out.text = dehyphenate(out.text, line.text, words)
        elif sep is None:
            out.text += " "
            start = len(out.text)
            out.text += line.text
        else:
            out.text += sep + " " * line.depth
            start = len(out.text)
            if line.bold or line.size > pitch["body_size"] + 0.5:
                out.headings.append(start)
            out.text += line.text
        if new_page:
            out.page_breaks.append((start, printed[line.page]))
        prev = line
    return out


def _pitch(body: list[PrintedLine]) -> dict[str, float]:
    """The usual distance between wrapped lines of the body text, and its font size."""
    gaps = Counter()
    sizes = Counter(round(line.size, 1) for line in body)
    for a, b in zip(body, body[1:], strict=False):
        if a.page == b.page and a.size == b.size:
            gaps[round(a.y - b.y, 1)] += 1
    return {
        "line": gaps.most_common(1)[0][0] if gaps else 12.0,
        "body_size": sizes.most_common(1)[0][0] if sizes else 10.0,
    }


def _type(line: PrintedLine) -> tuple[float, bool]:
    return round(line.size, 1), line.bold


def _measures(body: list[PrintedLine], pitch: dict[str, float]) -> dict[tuple[float, bool], float]:
    """Per type (size and weight), the usual length in characters of a line that wrapped on
    its page: a line about as long was cut by the margin, not by the end of its paragraph."""
    lengths: dict[tuple[float, bool], list[int]] = {}
    for a, b in zip(body, body[1:], strict=False):
        if a.page == b.page and _separator(a, b, pitch, {}) is None:
            lengths.setdefault(_type(a), []).append(len(a.text))
    return {kind: statistics.median(n) for kind, n in lengths.items()}


def _separator(
    prev: PrintedLine | None,
    line: PrintedLine,
    pitch: dict[str, float],
    measures: dict[tuple[float, bool], float],
) -> str | None:
    """None when `line` continues `prev`'s logical line, else "\\n" or "\\n\\n".

    Across a page a bold line runs on only from a bold line that filled its measure: headings
    are short, so a full one at the foot of a page was wrapped. Body text is not joined that
    way, as a paragraph (a bibliography entry) often ends on a full line."""
    if prev is None:
        return ""
    new_type = line.bullet or line.bold != prev.bold or abs(line.size - prev.size) > 0.5
    if line.page != prev.page:
        reads_on = line.text[:1].islower() or prev.text.endswith(("-", ","))
        wrapped = len(prev.text) >= FULL * measures.get(_type(prev), float("inf"))
        if new_type or not (wrapped if line.bold else reads_on):
            return "\n" if line.bullet else "\n\n"
        return None
    gap = prev.y - line.y
    scale = max(line.size, prev.size) / pitch["body_size"]
    if gap > pitch["line"] * scale + 6:
        return "\n\n"
    if new_type or gap > pitch["line"] * scale + 1.5:
        return "\n"
    return None
