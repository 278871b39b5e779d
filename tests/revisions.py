"""Revisions of the real statement, made from corpus/position-statement.txt at test time.

A revision keeps every sentence of the body and changes what a college's editor changes:
heading wording, numbering style and case, Markdown or plain headings, the order of sections,
a section added or removed, and the list markers. `Revision` says which; `revise` applies it.
`hand_revision` is one written out by hand (eleven headings reworded, the appendix moved).
Test code only: no edited copy of the statement is ever committed as the corpus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTENTS = ("CONTENTS", "Contents", "Table of contents", "TABLE OF CONTENTS")
REVIEW = ("LITERATURE REVIEW", "Literature review", "Review of the literature")
BIBLIOGRAPHY = ("BIBLIOGRAPHY", "Bibliography", "References", "REFERENCES", "Reference list")
APPENDIX = (
    "PROPOSED MECHANISMS FOR THE ANALGESIC EFFECT OF KETAMINE",
    "Proposed mechanisms for the analgesic effect of ketamine",
    "Appendix 1: Proposed mechanisms for the analgesic effect of ketamine",
)
NUMBERING = ("roman", "arabic", "section-arabic", "part")
CASES = ("upper", "sentence", "title")
BULLETS = ("-", "•", "numbered")
MOVES = ("none", "appendix-before-definitions", "paediatric-before-pre-2011", "sections-swapped")
CHANGES = ("none", "add-section", "remove-paediatric", "remove-section-ii")

ADDED = """{heading}

This section exists only in the test suite's revised copy of the statement; it reports no study.

- It is added to check that a new section keeps its own place in the outline.
- It has no citations of its own.
"""
ADDED_TITLE = "Ketamine in the synthetic test revision"


@dataclass(frozen=True)
class Revision:
    contents: str = "CONTENTS"
    review: str = "LITERATURE REVIEW"
    bibliography: str = "BIBLIOGRAPHY"
    appendix: str = APPENDIX[0]
    numbering: str = "roman"
    case: str = "upper"  # of the section titles
    markdown: bool = False
    bullet: str = "-"
    move: str = "none"
    change: str = "none"


@dataclass(frozen=True)
class Parts:
    """Today's statement cut at its top-level headings (each part keeps its heading line)."""

    front: str
    contents: str
    review: str
    sections: list[tuple[str, str]]  # (title as in the contents, body after the heading line)
    info: str
    appendix: str
    bibliography: str


def cut(text: str) -> Parts:
    def at(line: str) -> int:
        m = re.search("^" + re.escape(line), text, re.M)
        assert m, line
        return m.start()

    c, r = at("CONTENTS"), at("LITERATURE REVIEW")
    s1, s2 = at("Section I. "), at("Section II. ")
    info, app, bib = at("POLICY – "), at("PROPOSED MECHANISMS"), at("BIBLIOGRAPHY")

    def body(start: int, end: int) -> str:
        return text[start:end].split("\n", 1)[1]

    rows = dict(re.findall(r"^(Section [IV]+)\.\t(.*?)\t", text, re.M))
    return Parts(
        front=text[:c],
        contents=text[c:r],
        review=text[r:s1],
        sections=[(rows["Section I"], body(s1, s2)), (rows["Section II"], body(s2, info))],
        info=text[info:app],
        appendix=body(app, bib),
        bibliography=body(bib, len(text)),
    )


ROMAN = ("I", "II", "III", "IV")


def label(n: int, numbering: str) -> str:
    return {
        "roman": f"Section {ROMAN[n - 1]}.",
        "arabic": f"{n}.",
        "section-arabic": f"Section {n}.",
        "part": f"Part {n} –",
    }[numbering]


def cased(title: str, case: str) -> str:
    if case == "upper":
        return title.upper()
    if case == "title":
        return " ".join(w if w.isupper() else w[:1].upper() + w[1:] for w in title.split())
    return title[:1].upper() + title[1:]


def heading(text: str, level: int, markdown: bool) -> str:
    return f"{'#' * level} {text}" if markdown else text


def with_bullets(body: str, style: str) -> str:
    """List markers "-" as "•" or as numbers (counting within each run of a list)."""
    if style == "-":
        return body
    out, count = [], {}
    for line in body.split("\n"):
        m = re.match(r"^(\s*)- (.*)$", line)
        if not m:
            count = {}
            out.append(line)
            continue
        depth = len(m.group(1))
        count = {d: c for d, c in count.items() if d <= depth}
        count[depth] = count.get(depth, 0) + 1
        mark = "•" if style == "•" else f"{count[depth]}."
        out.append(f"{m.group(1)}{mark} {m.group(2)}")
    return "\n".join(out)


def section_body(body: str, r: Revision) -> str:
    """Sub-headings in Markdown when asked, subsection D moved or removed, list markers."""
    if "\nD. Paediatric literature\n" not in body:
        return with_bullets(_markdown_subheadings(body) if r.markdown else body, r.bullet)
    if r.change == "remove-paediatric":
        body = body[: body.index("\nD. Paediatric literature\n")] + "\n\n"
    if r.move == "paediatric-before-pre-2011" and "\nD. Paediatric literature\n" in body:
        c = body.index("\nC. pre-2011 reports\n") + 1
        d = body.index("\nD. Paediatric literature\n") + 1
        body = body[:c] + body[d:].rstrip("\n") + "\n\n" + body[c:d].rstrip("\n") + "\n\n"
    if r.markdown:
        body = _markdown_subheadings(body)
    return with_bullets(body, r.bullet)


def _markdown_subheadings(body: str) -> str:
    body = re.sub(r"^([A-D]\. \S.*|Synopsis)$", r"### \1", body, flags=re.M)
    for sub in ("Pain of acute nociception", "Pre-emptive analgesia in acute nociception"):
        body = body.replace(f"\n{sub}\n", f"\n### {sub}\n")
    return body


def revise(text: str, r: Revision) -> str:
    """Today's statement as revision `r` would print it; the body's sentences unchanged."""
    p = cut(text)
    sections = list(p.sections)
    if r.change == "remove-section-ii":
        sections = sections[:1]
    if r.move == "sections-swapped" and len(sections) > 1:
        sections = sections[::-1]
    if r.change == "add-section":
        sections.append((ADDED_TITLE, ADDED.split("\n", 1)[1]))
    pages = (2, 7, 8)
    rows = [
        f"{label(n, r.numbering).rstrip(' –')}\t{title}\tPage {pages[n - 1]}"
        for n, (title, _) in enumerate(sections, start=1)
    ]
    contents = (
        heading(r.contents, 2, r.markdown)
        + "\n\nLiterature review:\n\n"
        + "\n".join(rows)
        + "\nAppendix 1:\tProposed mechanisms for the analgesic effect of ketamine\tPage 9\n"
        + f"{r.bibliography.title() if r.bibliography.isupper() else r.bibliography}"
        + "\t\tPage 10\n\n"
    )
    body = heading(r.review, 1, r.markdown) + "\n\n"
    for n, (title, text_) in enumerate(sections, start=1):
        head = f"{label(n, r.numbering)} {cased(title, r.case)}"
        body += heading(head, 2, r.markdown) + "\n" + section_body(text_, r)
    appendix = heading(r.appendix, 1, r.markdown) + "\n" + _appendix_body(p.appendix, r)
    bibliography = heading(r.bibliography, 1, r.markdown) + "\n" + _bibliography_body(p, r)
    tail = [p.info, appendix]
    if r.move == "appendix-before-definitions":
        tail = [appendix, p.info]
    return p.front + contents + body + "".join(tail) + bibliography


def _appendix_body(body: str, r: Revision) -> str:
    if r.markdown:
        body = re.sub(r"^(\d(?:\.| \([ab]\)) \S.*)$", r"### \1", body, flags=re.M)
    return with_bullets(body, r.bullet)


def _bibliography_body(p: Parts, r: Revision) -> str:
    body = p.bibliography
    if r.markdown:
        body = re.sub(r"^([A-Z][A-Za-z /-]+[a-z])$", r"### \1", body, flags=re.M)
    return body


def expected_counts(r: Revision, today_items: int, today_sections: int) -> tuple[int, int]:
    """(items, sections) the revision should parse into, from today's counts."""
    items, sections = today_items, today_sections
    if r.change == "add-section":
        sections += 1
    if r.change == "remove-paediatric":
        items -= 2
    if r.change == "remove-section-ii":
        items -= 4  # Section II's four studies
        sections -= 1
    return items, sections


# ---------------------------------------------------------------------------------------------
# A revision written out by hand: eleven headings reworded, the appendix moved.

HAND_EDITS = (
    ("CONTENTS", "Table of Contents"),
    ("LITERATURE REVIEW", "Review of the published literature"),
    (
        "Section I. KETAMINE AS AN ANALGESIC IN CHRONIC PAIN",
        "1. Ketamine as an analgesic in chronic pain",
    ),
    (
        "Section II. KETAMINE AS PRE-EMPTIVE ANALGESIC OR AS “OPIOID-SPARING”",
        "2. Ketamine as pre-emptive analgesic or as “opioid-sparing”",
    ),
    ("A. Recent reviews", "A. Recent systematic reviews and guidelines"),
    ("B. Post-2011", "B. Reports after 2011"),
    ("C. pre-2011 reports", "C. Reports before 2011"),
    ("D. Paediatric literature", "D. Children and adolescents"),
    ("Pain of acute nociception", "Acute nociceptive pain"),
    ("Pre-emptive analgesia in acute nociception", "Pre-emptive analgesia for acute pain"),
    ("BIBLIOGRAPHY", "Reference list"),
    ("Commentaries", "Commentary"),
    ("Specific syndromes - CRPS", "Complex regional pain syndrome"),
)


def hand_revision(text: str) -> str:
    """Today's statement with thirteen headings reworded (contents rows renumbered to agree)
    and the appendix moved before the document information."""
    p = cut(text)
    moved = text.replace(p.info, "", 1)
    app = moved.index("PROPOSED MECHANISMS")
    bib = moved.index("BIBLIOGRAPHY\n")
    moved = moved[:bib] + p.info + moved[bib:]
    lines = moved.split("\n")
    for old, new in HAND_EDITS:
        hits = [i for i, line in enumerate(lines) if line == old]
        assert len(hits) == 1, old
        lines[hits[0]] = new
    out = "\n".join(lines)
    assert app > 0
    out = out.replace("Section I.\tKetamine", "1.\tKetamine").replace("Section II.\t", "2.\t")
    return out.replace("Bibliography\t\tPage 10", "Reference list\t\tPage 10")


def unrecoverable(text: str) -> str:
    """The statement with no contents table and no section numbers: nothing the template's
    reading can hold on to, so it must fall back to paragraphs with their citations."""
    p = cut(text)
    out = text.replace(p.contents, "", 1)
    return re.sub(r"^Section (?:I|II)\. ", "", out, flags=re.M)
