"""Handouts a teacher can hand out: a student version and an answer key, Markdown or HTML.

The student handout has the questions and the passages, verbatim, with no answer marks (no
highlighted sentence, no "correct answer", no teacher's note); the answer key adds them. Both
name the source document (title, college, date) and end with the references, numbered in order
of first use, each with its DOI and PubMed links. The HTML version prints cleanly (print CSS:
no links' URLs in the margins, no card broken across pages where it can be helped).
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from ketaqa.teaching.models import SavedPassage, TeachingSet
from ketaqa.text import source_html

PRINT_CSS = """
body { font-family: Georgia, "Times New Roman", serif; max-width: 46em; margin: 2em auto;
  padding: 0 1em; line-height: 1.45; color: #111; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.source, .notice { font-size: 0.92em; color: #333; }
blockquote { white-space: pre-wrap; margin: 0.6em 0; padding: 0.4em 0.8em;
  border-left: 3px solid #999; }
.where { font-size: 0.88em; color: #333; margin: 0 0 0.8em; }
mark { background: #fde68a; color: #111; }
.correct { font-weight: 700; }
.artefact { color: #57534e; font-size: 0.85em; }
.note { font-style: italic; }
.answer-space { border-bottom: 1px solid #999; height: 4em; margin-bottom: 1em; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  a { color: inherit; text-decoration: none; }
  section.item { break-inside: avoid-page; }
  h2 { break-after: avoid-page; }
}
"""


_MD_PUNCTUATION = re.compile(r"([\\`*_\[\]{}()#!|~^$])")
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])", re.M)
_AUTOLINK = re.compile(r"(?i)(\b(?:https?|ftp|mailto|javascript|data|file)|\bwww)([:.])")


def md_escape(text: str) -> str:
    """The user's words (question, note, set name) made inert in Markdown: no heading, list,
    link, image, emphasis, table, HTML or bare-URL autolink can come out of them, while a
    reader still sees the same characters."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_PUNCTUATION.sub(r"\\\1", text)
    text = _AUTOLINK.sub(r"\1\\\2", text)
    text = text.replace("@", "\\@")
    text = _MD_ORDERED.sub(r"\1\\\2", text)
    return re.sub(r"^(\s*)([-+=])", r"\1\\\2", text, flags=re.M)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def doi_url(doi: str) -> str:
    return "https://doi.org/" + quote(doi, safe="/:;()._-<>[]")


def pubmed_url(pmid: str) -> str:
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"


def reference_numbers(ts: TeachingSet) -> dict[str, tuple[int, SavedPassage]]:
    """Each distinct citation → (its number in order of first use, the first passage citing
    it, which carries its DOI and PMID)."""
    numbers: dict[str, tuple[int, SavedPassage]] = {}
    for item in ts.items:
        for p in item.passages:
            numbers.setdefault(p.citation, (len(numbers) + 1, p))
    return numbers


def bold_lines(text: str) -> str:
    """Bold a highlight line by line (Markdown bold cannot cross lines); bullet markers and
    surrounding white space stay outside the asterisks."""
    out = []
    for line in text.split("\n"):
        m = re.match(r"^(\s*(?:- )?)(.*?)(\s*)$", line)
        lead, body, trail = m.groups() if m else ("", line, "")
        out.append(f"{lead}**{body}**{trail}" if body else line)
    return "\n".join(out)


def _quote_block(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())


def _highlight_span(p: SavedPassage) -> tuple[int, int] | None:
    start = p.text.find(p.highlight) if p.highlight else -1
    return (start, start + len(p.highlight)) if start >= 0 else None


def to_markdown(ts: TeachingSet, notice: str = "", source: str = "", answers: bool = True) -> str:
    """A handout: each question, its passages quoted verbatim, numbered citations [n] and the
    references with DOI and PubMed links. `answers=False` is the student version: no
    highlighted sentence, no "correct answer" mark, no notes."""
    numbers = reference_numbers(ts)
    title = md_escape(ts.name) + ("" if answers else " — student handout")
    lines = [f"# {title}", ""]
    if source:
        lines += [f"Source: {source}", ""]
    if notice:
        lines += [f"*{notice}*", ""]
    for item in ts.items:
        lines += [f"## {item.position}. {md_escape(item.question)}", ""]
        for p in item.passages:
            n = numbers[p.citation][0]
            text, span = p.text, _highlight_span(p)
            if answers and span:
                text = text[: span[0]] + bold_lines(text[span[0] : span[1]]) + text[span[1] :]
            lines.append(_quote_block(text))
            where = ", ".join(x for x in (p.section, p.pages) if x)
            marker = " — correct answer" if answers and p.id == item.correct_passage_id else ""
            lines += [">", f"> — {where} [{n}]{marker}", ""]
        if answers and item.note:
            lines += [f"**Note:** {md_escape(item.note)}", ""]
    if numbers:
        lines += ["## References", ""]
        for citation, (n, p) in numbers.items():
            links = []
            if p.doi:
                links.append(f"doi: [{p.doi}]({doi_url(p.doi)})")
            if p.pmid:
                links.append(f"PubMed: [{p.pmid}]({pubmed_url(p.pmid)})")
            lines.append(f"{n}. {citation}" + (" — " + " · ".join(links) if links else ""))
        lines.append("")
    return "\n".join(lines)


def _html_reference(n: int, citation: str, p: SavedPassage) -> str:
    links = []
    if p.doi:
        links.append(f'doi: <a href="{_e(doi_url(p.doi))}">{_e(p.doi)}</a>')
    if p.pmid and p.pmid.isdigit():
        links.append(f'PubMed: <a href="{pubmed_url(p.pmid)}">{p.pmid}</a>')
    tail = (" — " + " · ".join(links)) if links else ""
    return f'<li value="{n}">{_e(citation)}{tail}</li>'


def to_html(ts: TeachingSet, notice: str = "", source: str = "", answers: bool = False) -> str:
    """The printable handout: a whole HTML page with print CSS; student version by default."""
    numbers = reference_numbers(ts)
    kind = "Answer key" if answers else "Student handout"
    body = [f"<h1>{_e(ts.name)}</h1>", f'<p class="source"><strong>{kind}.</strong>']
    if source:
        body.append(f" Source: {_e(source)}")
    body.append("</p>")
    if notice:
        body.append(f'<p class="notice"><em>{_e(notice)}</em></p>')
    for item in ts.items:
        parts = [f'<section class="item"><h2>{item.position}. {_e(item.question)}</h2>']
        for p in item.passages:
            span = _highlight_span(p) if answers else None
            where = ", ".join(x for x in (p.section, p.pages) if x)
            correct = answers and p.id == item.correct_passage_id
            mark = ' <span class="correct">— correct answer</span>' if correct else ""
            parts.append(
                f"<blockquote>{source_html(p.text, span)}</blockquote>"
                f'<p class="where">— {_e(where)} [{numbers[p.citation][0]}]{mark}</p>'
            )
        if answers and item.note:
            parts.append(f'<p class="note">Note: {_e(item.note)}</p>')
        if not answers:
            parts.append('<div class="answer-space" aria-hidden="true"></div>')
        body.append("".join(parts) + "</section>")
    if numbers:
        refs = "".join(_html_reference(n, c, p) for c, (n, p) in numbers.items())
        body.append(f"<h2>References</h2><ol>{refs}</ol>")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(ts.name)} — {kind}</title><style>{PRINT_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
