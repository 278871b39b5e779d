"""Checks on text that users type or import, shared by the question box and teaching sets.

Imports nothing of ours, so every layer (pipeline included) may use it.
"""

from __future__ import annotations

import html
import re
import unicodedata

_CONTROL_CATEGORIES = ("Cc", "Cs", "Co")


def has_control_characters(text: str) -> bool:
    """True when `text` holds control, surrogate or private-use characters other than tab and
    line breaks: such text is binary pasted by mistake and would corrupt exports."""
    return any(unicodedata.category(c) in _CONTROL_CATEGORIES and c not in "\t\n\r" for c in text)


def terminal_safe(text: str) -> str:
    """`text` with control characters (C0 but tab and newline, DEL, C1) shown as `\\xNN`:
    an imported abstract may carry bytes that a terminal would run as escape sequences."""
    return "".join(
        c if c in "\t\n" or unicodedata.category(c) != "Cc" else f"\\x{ord(c):02x}" for c in text
    )


def json_terminal_safe(line: str) -> str:
    """A JSON text with C1 and DEL characters escaped as `\\u00NN` (json.dumps escapes only
    C0 when `ensure_ascii=False`); those characters only occur inside JSON strings."""
    return "".join(c if not 0x7F <= ord(c) <= 0x9F else f"\\u{ord(c):04x}" for c in line)


# ---------------------------------------------------------------------------------------------
# The statement's own markup, shown as what it means without changing a word.
#
# The statement file is a conversion of the published PDF: journal titles are in Markdown
# emphasis (`*Biol Psychiatry*`) and the conversion left artefacts (`[SEP]`, an unpaired `**`).
# `source_html` shows emphasis as emphasis (the asterisks are the file's markup, said in a
# tooltip) and the artefacts de-emphasised, each with a note that it is in the source file.

SOURCE_MARKUP_RE = re.compile(
    r"(?<![*\w])(?P<mk>\*\*?)(?=[^\s*])(?P<body>[^*\n]+?)(?<=[^\s*])(?P=mk)(?![*\w])"
    r"|(?P<artefact>\[SEP\]|\*\*+)"
)
EMPHASIS_TITLE = "Emphasis in the source file (written there between asterisks)"
ARTEFACT_TITLE = "In the source file as converted from the PDF; not part of the statement's words"


def source_pieces(text: str) -> list[tuple[int, int, str]]:
    """`text` cut into (start, end, role) pieces covering every character: role is "" (plain),
    "em" or "strong" (emphasised words), "marker" (the asterisks around them) or "artefact"."""
    pieces: list[tuple[int, int, str]] = []
    pos = 0
    for m in SOURCE_MARKUP_RE.finditer(text):
        pieces.append((pos, m.start(), ""))
        if m.group("body") is not None:
            k = len(m.group("mk"))
            pieces.append((m.start(), m.start() + k, "marker"))
            pieces.append((m.start() + k, m.end() - k, "em" if k == 1 else "strong"))
            pieces.append((m.end() - k, m.end(), "marker"))
        else:
            pieces.append((m.start(), m.end(), "artefact"))
        pos = m.end()
    pieces.append((pos, len(text), ""))
    return [p for p in pieces if p[1] > p[0]]


def has_artefacts(text: str) -> bool:
    return any(role == "artefact" for _, _, role in source_pieces(text))


def source_html(text: str, span: tuple[int, int] | None = None) -> str:
    """A passage as HTML: every word verbatim and escaped, the source's emphasis as <em>/<strong>,
    its conversion artefacts in a de-emphasised <span class="artefact">, and `span` (the
    highlighted sentence) in <mark>. Pieces are wrapped one by one, so tags never cross."""
    lo, hi = span if span and 0 <= span[0] < span[1] <= len(text) else (-1, -1)
    out = []
    for start, end, role in source_pieces(text):
        cuts = sorted({start, end, *(c for c in (lo, hi) if start < c < end)})
        for s, e in zip(cuts, cuts[1:], strict=False):
            piece = html.escape(text[s:e], quote=True)
            if role == "marker":  # the file's markup: kept in the page, hidden, named in the title
                piece = f'<span class="src-mark" hidden>{piece}</span>'
            elif role in ("em", "strong"):
                piece = f'<{role} title="{EMPHASIS_TITLE}">{piece}</{role}>'
            elif role == "artefact":
                piece = f'<span class="artefact" title="{ARTEFACT_TITLE}">{piece}</span>'
            if role != "marker" and lo <= s and e <= hi:
                piece = f"<mark>{piece}</mark>"
            out.append(piece)
    return "".join(out)
