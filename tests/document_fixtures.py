"""Render a statement-format .txt as the college lays its documents out, as a PDF (fpdf2).

Test fixtures only, made by the tests: a title page, the contents (with the real page numbers,
found by a first rendering), bold headings, "•" bullets, a running header with the document code,
"Page N of M" footers and some words hyphenated across lines. The text is the source's, so a
passage read back from the PDF can be compared with the .txt. A revision (tests/revisions.py)
renders the same way: contents rows in any numbering, Markdown headings set in bold without
their marks, "-", "•" and numbered list markers as hanging list items. Needs a Unicode TTF
(DejaVu, from Debian's `fonts-dejavu-core`) for the curly quotes, en-dashes, α and superscripts.
"""

from __future__ import annotations

import re
from pathlib import Path

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
SOFT_HYPHEN = "\u00ad"
CONTENTS_ROW_RE = re.compile(r"^([^\t]+?)\t+([^\t]*?)\t+Page \d+")  # label, title, page
HEADING_RE = re.compile(
    r"^(Section [IVX]+\.|[A-D]\. |Synopsis$|CONTENTS$|Table of Contents$|Literature review:$)"
)
ITEM_RE = re.compile(r"^((?:[-•]|\d{1,2}\.) )?[A-Z]-\d+\.")  # an item, bulleted or not
BULLET_RE = re.compile(r"^(\s*)([-•]|\d{1,2}\.) (.*)$")
MARKDOWN_HEADING_RE = re.compile(r"^#{1,6} (.*)$")


def find_font() -> Path | None:
    """DejaVuSans.ttf and its bold face, if the machine has them."""
    for folder in FONT_DIRS:
        if (folder / "DejaVuSans.ttf").exists() and (folder / "DejaVuSans-Bold.ttf").exists():
            return folder
    return None


def hyphenate(text: str, every: int = 7) -> str:
    """Offer a soft hyphen in the middle of some long plain words, as a typesetter would."""
    count = 0

    def offer(m: re.Match[str]) -> str:
        nonlocal count
        count += 1
        word = m.group(0)
        if count % every:
            return word
        cut = len(word) // 2
        return word[:cut] + SOFT_HYPHEN + word[cut:]

    return re.sub(r"(?<![\w-])[a-z]{13,}(?![\w-])", offer, text)


def _is_heading(line: str, prev_blank: bool, next_blank: bool) -> bool:
    s = line.strip()
    if HEADING_RE.match(s) or ITEM_RE.match(s):
        return True
    if s.isupper() and len(s) > 3 and not s.startswith(("POLICY", "POSITION", "GUIDELINE")):
        return True
    short = len(s.split()) <= 10 and not s.endswith(".") and not s.startswith(("-", "“", '"'))
    short = short and not s.endswith(":")
    return prev_blank and next_blank and short and not re.search(r"\d{4}", s)


def _heads(s: str, label: str, title: str) -> bool:
    """Whether heading `s` opens the region of contents row (`label`, `title`), in any case:
    "Section I. KETAMINE AS …" for "Section I." and its title, "BIBLIOGRAPHY" for "Bibliography",
    "PROPOSED MECHANISMS …" for "Appendix 1:" and that title."""
    core = label.rstrip(".:–- ")
    if not title:
        return s.lower() == core.lower()
    rest = s[len(core) :].lstrip(".:–- ") if s.lower().startswith(core.lower()) else s
    return rest.lower() == title.lower()


def _list_item(lines: list[str], i: int) -> re.Match[str] | None:
    """A "-" or "•" line, or a numbered one beside another list line: a numbered line on its
    own ("1. Inhibition of …") is a heading, not a list."""
    m = BULLET_RE.match(lines[i])
    if not m or m.group(2) in "-•":
        return m
    near = [lines[k] for k in (i - 1, i + 1) if 0 <= k < len(lines)]
    return m if any(BULLET_RE.match(x) for x in near) else None


def render(text: str, out: Path, code: str, font_dir: Path) -> Path:
    """Two passes: the first finds each region's page, the second prints them in the contents."""
    pages: dict[str, int] = {}
    _render(text, out, code, font_dir, pages, first_pass=True)
    _render(text, out, code, font_dir, pages, first_pass=False)
    return out


def _render(text, out, code, font_dir, pages, first_pass):
    from fpdf import FPDF

    class CollegePDF(FPDF):
        def header(self):
            if self.page_no() == 1:
                return
            self.set_font("dejavu", "", 8)
            self.cell(0, 5, f"{code}    Position statement", align="R")
            self.ln(10)

        def footer(self):
            self.set_y(-12)
            self.set_font("dejavu", "", 8)
            self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")

    pdf = CollegePDF(format="A4")
    pdf.add_font("dejavu", "", str(font_dir / "DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", str(font_dir / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(20, 15, 20)
    pdf.add_page()
    lines = text.split("\n")
    rows = [m.groups() for line in lines if (m := CONTENTS_ROW_RE.match(line.strip()))]
    in_front = True
    for i, raw in enumerate(lines):
        s = raw.strip()
        if not s:
            continue
        prev_blank = i == 0 or not lines[i - 1].strip()
        next_blank = i + 1 >= len(lines) or not lines[i + 1].strip()
        row = CONTENTS_ROW_RE.match(s)
        if row:
            _contents_row(pdf, row, pages)
            continue
        marked = MARKDOWN_HEADING_RE.match(s)  # printed in bold, without its marks
        s = marked.group(1) if marked else s
        if s.startswith("“"):
            in_front = False
        region = next((label for label, title in rows if _heads(s, label, title)), None)
        contents = s.isupper() and s.startswith(("CONTENTS", "TABLE OF CONTENTS"))
        if (region or contents) and pdf.get_y() > 40:
            pdf.add_page()
        if region:
            in_front = False
            pages.setdefault(region, pdf.page_no()) if first_pass else None
        heading = bool(marked) or _is_heading(s, prev_blank, next_blank)
        _paragraph(pdf, _list_item(lines, i), s, in_front, heading, next_blank)
    pdf.output(str(out))


def _contents_row(pdf, row, pages):
    label = row.group(1)
    pdf.set_font("dejavu", "", 10)
    pdf.cell(35, 6, label)
    pdf.cell(110, 6, row.group(2))
    pdf.cell(0, 6, f"Page {pages.get(label, 0)}", new_x="LMARGIN", new_y="NEXT")


def _paragraph(pdf, bullet, s, in_front, heading, next_blank):
    gap = 3.0 if next_blank else 1.2
    if bullet and not ITEM_RE.match(s):
        depth = 1 if bullet.group(1) else 0
        marker = "•" if bullet.group(2) in "-•" else bullet.group(2)
        pdf.set_font("dejavu", "", 10)
        x = pdf.l_margin + 4 + 6 * depth
        pdf.set_x(x)
        pdf.cell(max(5.0, pdf.get_string_width(marker) + 1.5), 5, marker)
        pdf.multi_cell(0, 5, hyphenate(bullet.group(3)), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)
        return
    if in_front:
        pdf.set_font("dejavu", "B", 16 if "Position Statement" in s else 12)
        pdf.multi_cell(0, 8, s, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        return
    pdf.set_font("dejavu", "B" if heading else "", 11 if heading else 10)
    pdf.multi_cell(0, 5, s if heading else hyphenate(s), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(gap)


ADDED_SECTION = """Section III. KETAMINE IN THE SYNTHETIC TEST REVISION

This section exists only in the test suite's revised copy of the statement; it reports no study.

- It is added to check that a new section keeps its own place in the outline.
- It has no citations of its own.
"""

REVISIONS = (
    # (old line, new line): headings reworded and one item renumbered
    ("CONTENTS", "Table of Contents"),
    ("LITERATURE REVIEW", "REVIEW OF THE LITERATURE"),
    ("A. Recent reviews", "A. Recent systematic reviews and guidelines"),
    ("BIBLIOGRAPHY", "References"),
    (
        "PROPOSED MECHANISMS FOR THE ANALGESIC EFFECT OF KETAMINE",
        "MECHANISMS THAT MAY UNDERLIE KETAMINE ANALGESIA",
    ),
    ("A-3. Bell RF, Kalso EA.", "A-4. Bell RF, Kalso EA."),
)


def revised_statement(text: str) -> str:
    """The statement as a later revision might read: reworded headings, a section added
    before the definitions, item A-3 renumbered A-4. Only headings change; the body is kept."""
    lines = text.split("\n")
    for old, new in REVISIONS:
        hits = [i for i, line in enumerate(lines) if line.startswith(old)]
        assert hits, old
        for i in hits:
            lines[i] = new + lines[i][len(old) :]
    out = "\n".join(lines)
    row = "Section II.\tKetamine as pre-emptive analgesic or as “opioid-sparing”\tPage 7\n"
    out = out.replace(row, row + "Section III.\tKetamine in the synthetic test revision\tPage 8\n")
    return out.replace("POLICY – ", ADDED_SECTION + "\nPOLICY – ", 1)


# A second professional document in the college's template, about another (invented) drug, with
# its own bibliography and no references.json. Every name, study, journal and number is made up
# for the test suite; the DOI uses the 10.5555 test prefix and the PMID is not a real record.
# A line ending in a backslash continues on the next: long lines are one line of the document.
SYNTHETIC_STATEMENT = """Position Statement on the use of zelorafine in persistent neuropathic pain

Synthetic test document: an invented drug and invented studies

“Zelorafine remains a drug in search of its trials, and this invented sentence says so.”

Alder P et al, Journal of Synthetic Analgesia 2019; 4: 1-9

CONTENTS

Literature review:

Section I.\tZelorafine as an analgesic in neuropathic pain\tPage 2
Section II.\tZelorafine as an opioid-sparing agent\tPage 4
Appendix 1:\tProposed mechanisms of zelorafine\tPage 5
Bibliography\t\tPage 6

LITERATURE REVIEW

Section I. ZELORAFINE AS AN ANALGESIC IN NEUROPATHIC PAIN

This synthetic document exists only to test the parser; no study in it is real¹.

A. Systematic reviews

A-1. Alder P, Brook Q, Corran R. Zelorafine infusions for neuropathic pain: a synthetic \
systematic review.

- 12 invented trials screened; 4 included
- small effect at 2 weeks, none at 3 months, as the later cohort also found [Dunmore & Ellery, \
2020]
- an older report is cited for contrast [Quill & Rook, 2017]

A-2. Dunmore S, Ellery T. Oral zelorafine in diabetic neuropathy: an invented cohort.

- cohort n=80, 12 months
- no change in sleep scores

B. Randomised trials

B-1. Fenwick U, Garside V. A made-up randomised trial of zelorafine against placebo.

- RCT n=120, 0.2 mg/kg/h for 4 hours
- higher rate of dizziness with zelorafine

¹ Footnote of the synthetic document: nothing here is advice.

Section II. ZELORAFINE AS AN OPIOID-SPARING AGENT

Perioperative use

Hartwell W, Ingram X. Zelorafine and opioid consumption after invented surgery. *Synthetic \
Anaesthesia Reports* 2021; 3:10-20.

- retrospective, n=40
- opioid use fell by a third on day one

POSITION STATEMENT – A document that describes where the synthetic college stands on an invented \
issue.

This synthetic document has been prepared for the test suite and is not a professional document.

Promulgated: 2021
Reviewed: 2023
Date of Current Document: May 2024

© Copyright 2024 – Synthetic Test College. All rights reserved.

PROPOSED MECHANISMS OF ZELORAFINE

1. Block of an invented ion channel

Zelorafine is said, in this synthetic text, to block a channel that does not exist.

BIBLIOGRAPHY

Reviews

Alder P, Brook Q, Corran R. Zelorafine infusions for neuropathic pain: a synthetic systematic \
review. *Journal of Synthetic Analgesia* 2019; 4:1-9.

Alder P, Moss N. Zelorafine and the invented spinal synapse. *Synthetic Neuroscience* 2019; \
7:101-110.

Dunmore S, Ellery T. Oral zelorafine in diabetic neuropathy: an invented cohort. *Made-up Pain \
Medicine* 2020;11(2):33-41. doi:10.5555/synth.2020.011. PMID: 99999901.

Trials

Fenwick U, Garside V. A made-up randomised trial of zelorafine against placebo. *Journal of \
Synthetic Analgesia* 2022; 7: 200–212.

Hartwell W, Ingram X. Zelorafine and opioid consumption after invented surgery. *Synthetic \
Anaesthesia Reports* 2021; 3:10-20.

van der Linde Y, Okafor Z. Zelorafine in a fictional cohort of older adults. *Invented \
Geriatrics* 2018; 5:77-80.
"""
