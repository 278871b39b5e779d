"""The position statement's typography: what each kind of line looks like.

Patterns and line splitting only; where a line belongs is decided in
`documents.statement`.
Kept apart because this is the part a revised statement or a PDF (other numbering, upper-case
headings) changes first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ketaqa.pipeline.documents.outline import ENDS_MID_SENTENCE_RE

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

GUIDELINE_SOURCE = ("cohen2018",)  # the A-2 guideline whose questions are named above

SECTION_RE = re.compile(r"^Section (I{1,3}|IV)\.\s+\S")
SUBSECTION_RE = re.compile(r"^([A-D])\. (\S.*)$")
ITEM_RE = re.compile(r"^(?:[-•] )?([A-D]-\d)\.(?:\*\*)?\s+(.*)$")
ITEM_PART_RE = re.compile(r"^\((a|b)\)\s+")
QUESTION_RE = re.compile(r"^(?:[-•] )?\((i{1,3}|iv|v|vi{1,3})\)([¹²³⁴⁵⁶⁷⁸⁹]?)\s+(.*)$")
FOOTNOTE_RE = re.compile(r"^([¹²³⁴⁵⁶⁷⁸⁹])\s+\S")
BULLET_RE = re.compile(r"^(\s*)[-•] ")
CONTENTS_ROW_RE = re.compile(
    r"^(Section [IV]+|Appendix \d+|Bibliography)[.:]?(?:\t+(.*?))?\t+Page (\d+)"
)
MECHANISM_RE = re.compile(r"^(\d)(?:\.| \([ab]\))\s+\S")
AUTHOR_START_RE = re.compile(r"^\**[A-Z][A-Za-z'\-]+(?: [A-Z][a-z]+)?,? (?:[A-Z]{1,3}\b|Eric)")
DEFINITION_RE = re.compile(r"^(POLICY|POSITION STATEMENT|GUIDELINE) – ")
DATES_RE = re.compile(r"^(Promulgated|Reviewed|Date of Current Document):")
YEAR_RE = re.compile(r"\b(19|20)\d\d\b")


CONTENTS_HEADING_RE = re.compile(r"^(?:table of )?contents:?\s*$", re.M | re.I)
BIBLIOGRAPHY_HEADING_RE = re.compile(r"^(?:bibliography|references)\s*$", re.M | re.I)


def is_position_statement(text: str) -> bool:
    """A document in the college's template: contents, numbered sections and a bibliography.

    Any wording of the contents heading ("CONTENTS", "Table of Contents") will do, as will
    contents rows alone, so a revised statement is still read as one."""
    has_contents = CONTENTS_HEADING_RE.search(text) or CONTENTS_ROW_RE.search(text)
    return bool(
        has_contents
        and re.search(r"^Section I\.", text, re.M)
        and BIBLIOGRAPHY_HEADING_RE.search(text)
    )


@dataclass(frozen=True)
class Line:
    start: int
    end: int  # excluding the newline
    text: str


def split_lines(text: str) -> list[Line]:
    out, pos = [], 0
    for raw in text.split("\n"):
        out.append(Line(pos, pos + len(raw), raw))
        pos += len(raw) + 1
    return out


def continues_on(body: str, nxt: Line | None) -> bool:
    """A line cut mid-sentence ("... should be avoided in") whose next line reads on from it."""
    if nxt is None or not ENDS_MID_SENTENCE_RE.search(body):
        return False
    following = BULLET_RE.sub("", nxt.text).strip()
    return bool(following) and following[0].islower()


def contents_table(lines: list[Line]) -> tuple[dict[str, int], dict[str, str]]:
    """Region -> first printed page, and region -> title, from the contents table rows."""
    pages, titles = {}, {}
    for line in lines:
        m = CONTENTS_ROW_RE.match(line.text)
        if m:
            pages[m.group(1)] = int(m.group(3))
            if (m.group(2) or "").strip():
                titles[m.group(1)] = m.group(2).strip()
    return pages, titles


CAPS_HEADING_RE = re.compile(r"[A-Z][A-Z ,'’“”&()/:-]+")


def is_caps_heading(s: str) -> bool:
    """An upper-case heading ("LITERATURE REVIEW", "PROPOSED MECHANISMS …"), not a definition."""
    words = [w for w in s.split() if len(w) >= 3]
    return bool(CAPS_HEADING_RE.fullmatch(s)) and len(words) >= 2 and not DEFINITION_RE.match(s)


def ends_contents(s: str) -> bool:
    """The first line after the contents table: an upper-case heading or a section heading."""
    if not s or CONTENTS_ROW_RE.match(s):
        return False
    return is_caps_heading(s) or bool(SECTION_RE.match(s) and "\t" not in s)
