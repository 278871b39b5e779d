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

# A list marker: "-", "•", "*" or a number ("1.", "2)"), so a revision's bullets read alike.
BULLET_MARK = r"(?:[-•*]|\d{1,2}[.)])"
# Markdown or bold decoration around a heading ("## 1. Ketamine …", "**References**").
DECORATION_RE = re.compile(r"^#{1,6}\s+|^\*\*(?=\S)|(?<=\S)\*\*$")
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
NUMERAL = r"(?:XI{0,2}|IX|IV|VI{0,3}|I{1,3}|\d{1,2})"
# "Section I. KETAMINE …", "Part 2 – Ketamine …", "1. Ketamine …" (the last only when the
# contents table agrees, `StatementParser._section_heading`)
SECTION_RE = re.compile(rf"^(?:(Section|Part)\s+)?({NUMERAL})(?:[.:)]|\s+[–—-])\s+(\S.*)$", re.I)
SUBSECTION_RE = re.compile(r"^([A-H])\. (\S.*)$")
ITEM_RE = re.compile(rf"^(?:{BULLET_MARK} )?(?:\*\*)?([A-H]-\d{{1,2}})\.(?:\*\*)?\s+(.*)$")
ITEM_LABEL_RE = re.compile(rf"^\s*(?:{BULLET_MARK} )?(?:\*\*)?([A-H]-\d{{1,2}})\.", re.M)
ITEM_PARTS_RE = re.compile(r"^[A-H]-\d{1,2}\.(?:\*\*)?\s*\(a\)\s")  # "C-1.** (a) … (b) …"
ITEM_PART_RE = re.compile(r"^\((a|b)\)\s+")
QUESTION_RE = re.compile(
    rf"^(?:{BULLET_MARK} )?\((i{{1,3}}|iv|v|vi{{1,3}})\)([¹²³⁴⁵⁶⁷⁸⁹]?)\s+(.*)$"
)
FOOTNOTE_RE = re.compile(r"^([¹²³⁴⁵⁶⁷⁸⁹])\s+\S")
BULLET_RE = re.compile(rf"^(\s*){BULLET_MARK} ")
NUMBERED_RE = re.compile(r"^\s*\d{1,2}[.)] ")
# A contents row: a region's label, its title, and a printed page after a tab, dot leaders or
# "Page"; the label in any numbering ("Section I.", "Part 2:", "3.") or bibliography wording.
CONTENTS_ROW_RE = re.compile(
    rf"^(?:[-•*] )?(?:\*\*)?((?:Section|Part)\s+{NUMERAL}|{NUMERAL}|Appendix\s+\d+"
    r"|Bibliography|References|Reference list)(?:[.:)]|\s+[–—-])?(?:\*\*)?"
    r"(?:(?:\t+|\s+)(.*?))?(?:(?:\t+|\s*\.{3,}\s*)(?:Page\s*|p\.\s*)?|\s+(?:Page|p\.)\s*)"
    r"(\d{1,3})\s*$",
    re.I,
)
MECHANISM_RE = re.compile(r"^(\d)(?:\.| \([ab]\))\s+\S")
AUTHOR_START_RE = re.compile(r"^\**[A-Z][A-Za-z'\-]+(?: [A-Z][a-z]+)?,? (?:[A-Z]{1,3}\b|Eric)")
DEFINITION_RE = re.compile(r"^(POLICY|POSITION STATEMENT|GUIDELINE) – ")
DATES_RE = re.compile(r"^(Promulgated|Reviewed|Date of Current Document):")
YEAR_RE = re.compile(r"\b(19|20)\d\d\b")
# what a bibliography entry looks like beyond its authors: a journal in italics, volume:pages,
# a DOI or an "et al"
ENTRY_DETAIL_RE = re.compile(
    r"\*[^*]+\*|\d+\s*(?:\(\d+\))?\s*:\s*\d+|\bdoi\b|10\.\d{4,}/|\bet al\b"
)

CONTENTS_HEADING_RE = re.compile(
    r"^(?:#{1,6}\s+)?(?:\*\*)?(?:table of )?contents(?:\*\*)?:?\s*$", re.M | re.I
)
BIBLIOGRAPHY_HEADING_RE = re.compile(
    r"^(?:#{1,6}\s+)?(?:\*\*)?(?:bibliography|references|reference list|works cited"
    r"|literature cited)(?:\*\*)?:?\s*$",
    re.M | re.I,
)
STOPWORDS = frozenset("a an and as at by for from in of on or the to with".split())


def clean_heading(s: str) -> str:
    """A heading without its Markdown `#`s or bold stars: what the outline calls it."""
    return DECORATION_RE.sub("", s.strip()).strip()


def roman(numeral: str) -> str:
    """ "2" or "ii" -> "II": sections keep one name whatever numbering a revision uses."""
    if numeral.isdigit():
        n = int(numeral)
        return ROMAN[n - 1] if 1 <= n <= len(ROMAN) else numeral
    return numeral.upper()


def region_name(label: str) -> str:
    """A contents row's label as the outline names the region ("Part 2" -> "Section II")."""
    label = " ".join(label.split())
    low = label.lower()
    if low in ("bibliography", "references", "reference list"):
        return "Bibliography"
    if low.startswith("appendix"):
        return "Appendix " + label.split()[1]
    return "Section " + roman(label.split()[-1])


def title_words(s: str) -> set[str]:
    """Content words of a heading, cut to six letters, so case and inflection do not matter."""
    words = re.findall(r"[a-z0-9]+", s.lower())
    return {w[:6] for w in words if w not in STOPWORDS and len(w) > 2}


def agrees(heading: str, title: str) -> bool:
    """A heading says what a contents title says: most of the title's words, and little else."""
    want, got = title_words(title), title_words(heading)
    if not want or not got:
        return False
    return len(want & got) >= 0.6 * len(want) and len(got - want) <= max(3, len(want))


def looks_like_entry(s: str) -> bool:
    """A bibliography entry by its shape: authors first, a year, and a journal, pages or DOI."""
    s = s.lstrip("*").strip()
    authors = AUTHOR_START_RE.match(s) or re.match(r"^[A-Z][\w'’-]+,? [A-Z]{1,3}[,.]", s)
    return bool(authors and YEAR_RE.search(s) and ENTRY_DETAIL_RE.search(s))


def is_position_statement(text: str) -> bool:
    """A document in the college's template: contents, numbered sections or item labels, and a
    bibliography.

    Recognised by shape, not wording: a contents heading in any wording or contents rows alone;
    a section in any numbering ("Section I.", "Part 2", "3.") or items labelled "A-1."; a
    bibliography heading ("References", "Reference list") or entries that look like one."""
    lines = [clean_heading(x) for x in text.split("\n")]
    has_contents = CONTENTS_HEADING_RE.search(text) or any(CONTENTS_ROW_RE.match(x) for x in lines)
    sections = any(
        (m := SECTION_RE.match(x)) and m.group(1) and not CONTENTS_ROW_RE.match(x) for x in lines
    )
    has_bibliography = any(BIBLIOGRAPHY_HEADING_RE.match(x) for x in lines) or (
        sum(1 for x in lines if looks_like_entry(x)) >= 5
    )
    return bool(has_contents and (sections or ITEM_LABEL_RE.search(text)) and has_bibliography)


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
    """Region -> first printed page, and region -> title, from the contents table rows.

    Regions are named as the outline names them ("Section II", "Appendix 1", "Bibliography"),
    whatever numbering or wording the rows use."""
    pages, titles = {}, {}
    for line in lines:
        m = CONTENTS_ROW_RE.match(line.text.strip())
        if m:
            name = region_name(m.group(1))
            pages[name] = int(m.group(3))
            if (m.group(2) or "").strip():
                titles[name] = m.group(2).strip()
    return pages, titles


CAPS_HEADING_RE = re.compile(r"[A-Z][A-Z ,'’“”&()/:-]+")


def is_caps_heading(s: str) -> bool:
    """An upper-case heading ("LITERATURE REVIEW", "PROPOSED MECHANISMS …"), not a definition."""
    words = [w for w in s.split() if len(w) >= 3]
    return bool(CAPS_HEADING_RE.fullmatch(s)) and len(words) >= 2 and not DEFINITION_RE.match(s)


def ends_contents(s: str) -> bool:
    """The first line after the contents table: an upper-case heading or a section heading."""
    s = clean_heading(s)
    if not s or CONTENTS_ROW_RE.match(s):
        return False
    return is_caps_heading(s) or bool(SECTION_RE.match(s) and "\t" not in s)
