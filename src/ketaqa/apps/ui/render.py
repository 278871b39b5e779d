"""HTML for the app: pure functions of passages, references, answers and reports.

Nothing here holds the `Assistant` or Gradio: callers pass in what is shown (the index's
passages and references, a citation already worded), so every renderer can be tested on plain
records cut from the corpus. Every string that comes from the corpus, a question, a note or a set
name is HTML-escaped. Passages are printed verbatim (`white-space: pre-wrap`, see style.css) with
the highlighted sentence in `<mark>`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote

from ketaqa.abstracts.status import none_by_nature
from ketaqa.pipeline.answer import Answer, RankedPassage
from ketaqa.pipeline.assistant import NOTICE
from ketaqa.pipeline.corpus import Reference
from ketaqa.pipeline.passages import Passage
from ketaqa.pipeline.verdict import verdict_sentence

if TYPE_CHECKING:
    from ketaqa import teaching

RELATED_BADGE = "Related passage, not an answer"

# Evidence grades as the statement words them, e.g. "grade B recommendation, low to moderate
# level of certainty", "grade C evidence", "grade D, low level of certainty",
# "GRADE: weak recommendation; low evidence". Only text that is really there is quoted.
GRADE_RE = re.compile(
    r"\bGRADE:\s*[^()\n“”\"]{1,80}?(?=[)”\"\n]|$)"
    r"|\b[Gg]rade [A-D]\b"  # a bare "grade A" is not enough: it needs what it grades
    r"(?:\s+(?:recommendation|evidence)(?:,\s*(?:[a-z]+\s+){0,4}level of certainty)?"
    r"|,\s*(?:[a-z]+\s+){0,4}level of certainty)"
)
DATE_RE = re.compile(
    r"((?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\s+\d{4})\s*$"
)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# ---------------------------------------------------------------------------------------------
# The notice above the tabs


def evidence_grades(text: str) -> list[str]:
    """Evidence grades stated in a passage's own words, each quoted as it appears."""
    return list(dict.fromkeys(m.group(0).strip().rstrip(",;") for m in GRADE_RE.finditer(text)))


def statement_doc_id(passages: Sequence[Passage]) -> str | None:
    """The document the notice cites: the statement, else whatever was indexed first."""
    first = next(
        (p for p in passages if p.source == "statement"), passages[0] if passages else None
    )
    return first.doc_id if first else None


def document_date(citation: str) -> str:
    """The statement's date, as its own citation gives it (e.g. "April 2022"), or ""."""
    m = DATE_RE.search(citation) if citation else None
    return m.group(1) if m else ""


def abstracts_line(references: Mapping[str, Reference], passages: Iterable[Passage]) -> str:
    """How many cited abstracts the index holds, and how many cannot have one."""
    refs = list(references.values())
    loaded = {k for p in passages if p.source == "abstract" for k in p.reference_keys}
    can_have = [r for r in refs if none_by_nature(r) is None]
    by_nature = len(refs) - len(can_have)
    have = sum(1 for r in can_have if r.key in loaded)
    text = (
        f"Cited abstracts indexed: {have} of {len(can_have)} references that have one "
        f"({by_nature} have none by nature: letters, commentaries, reports, books)."
    )
    if have < len(can_have):
        text += " Load them with `ketaqa abstracts fetch` or `ketaqa abstracts import`."
    return text


def notice_html(citation: str, abstracts: str) -> str:
    """The not-a-guideline notice, the statement's citation and date, the abstracts line."""
    date = document_date(citation)
    lines = [f"<strong>{_e(NOTICE)}</strong>"]
    if citation:
        lines.append(f"Source: {_e(citation)}")
    if date:
        lines.append(f"Current document: {_e(date)}.")
    lines.append(_e(abstracts))
    return '<div class="notice">' + "<br>".join(lines) + "</div>"


# ---------------------------------------------------------------------------------------------
# Passage cards


def cited_references(references: Mapping[str, Reference], passage: Passage) -> list[Reference]:
    """The references a passage cites, placeholders only when there is nothing better."""
    refs = [references[k] for k in passage.reference_keys if k in references]
    return [r for r in refs if r.kind != "placeholder"] or refs


def _marked(text: str, span: tuple[int, int] | None) -> str:
    """Verbatim text, escaped, with the span in <mark>."""
    if not span or not (0 <= span[0] < span[1] <= len(text)):
        return _e(text)
    start, end = span
    return f"{_e(text[:start])}<mark>{_e(text[start:end])}</mark>{_e(text[end:])}"


def _breadcrumb(parts: Iterable[str]) -> str:
    crumbs = '<span class="sep">›</span>'.join(f"<span>{_e(p)}</span>" for p in parts)
    return f'<nav class="breadcrumb" aria-label="Section">{crumbs}</nav>'


def _reference_links(ref: Reference) -> str:
    links = []
    if ref.doi:
        href = "https://doi.org/" + quote(ref.doi, safe="/:;()._-<>[]")
        links.append(f'<a href="{_e(href)}" target="_blank" rel="noopener">doi:{_e(ref.doi)}</a>')
    if ref.pmid and ref.pmid.isdigit():
        href = f"https://pubmed.ncbi.nlm.nih.gov/{ref.pmid}/"
        links.append(f'<a href="{href}" target="_blank" rel="noopener">PubMed {ref.pmid}</a>')
    return "".join(links)


def _context(passage: Passage, by_id: Mapping[str, Passage], span: tuple[int, int]) -> str:
    blocks = []
    for label, pid, cls in (
        ("Before", passage.prev_id, "prev"),
        ("This passage", passage.id, "current"),
        ("After", passage.next_id, "next"),
    ):
        p = by_id.get(pid) if pid else None
        if p is None:
            continue
        where = " · ".join(x for x in (str(p.section), p.pages.label()) if x)
        body = _marked(p.text, span) if cls == "current" else _e(p.text)
        blocks.append(
            f'<div class="ctx {cls}"><span class="ctx-label">{_e(label)} — {_e(where)}</span>'
            f"{body}</div>"
        )
    if len(blocks) < 2:
        return ""
    return (
        "<details><summary>Context: the neighbouring passages</summary>"
        + "".join(blocks)
        + "</details>"
    )


def passage_card(
    rp: RankedPassage,
    answers: bool,
    by_id: Mapping[str, Passage],
    references: Mapping[str, Reference],
    citation: str,
    source_evidence: Sequence[Mapping[str, object]] = (),
) -> str:
    """One ranked passage: where it is, its grades, the text verbatim, how to cite it."""
    p = rp.passage
    refs = cited_references(references, p)
    header = [f'<span class="rank">[{rp.rank}]</span>', _breadcrumb(p.section.parts)]
    header.append(f'<span class="page">{_e(p.pages.label() or "page not known")}</span>')
    if not answers:
        header.append(f'<span class="badge no">{RELATED_BADGE}</span>')
    for grade in evidence_grades(p.text):
        header.append(
            f'<span class="badge grade" title="quoted from the passage">“{_e(grade)}”</span>'
        )
    parts = [
        f'<article class="card{"" if answers else " weak"}" data-passage-id="{_e(p.id)}">',
        f"<header>{''.join(header)}</header>",
        f'<div class="passage">{_marked(p.text, rp.highlight)}</div>',
        f'<div class="citation"><strong>Citation:</strong> {_e(citation)}'
        + "".join(_reference_links(r) for r in refs)
        + "</div>",
    ]
    cited_in = list(dict.fromkeys(c for r in refs for c in r.cited_in))
    if cited_in:
        where = "".join(f'<span class="where">{_e(c)}</span>' for c in cited_in)
        parts.append(f'<div class="cited-in">Cited in {where}</div>')
    for r in refs:
        if r.citation_note:
            parts.append(
                f'<div class="cnote"><em>Note on this citation:</em> {_e(r.citation_note)}</div>'
            )
    if p.footnotes:
        notes = "".join(f"<p>{_e(f.text)}</p>" for f in p.footnotes)
        parts.append(f'<div class="footnotes"><strong>Footnotes:</strong>{notes}</div>')
    parts.append(source_evidence_html(source_evidence))
    parts.append(_context(p, by_id, rp.highlight))
    parts.append("</article>")
    return "".join(parts)


def source_evidence_html(evidence: Sequence[Mapping[str, object]]) -> str:
    """Beside the statement's words, the cited study's own closest sentence, verbatim."""
    if not evidence:
        return ""
    rows = []
    for e in evidence:
        label = _e(e.get("label") or "ABSTRACT")
        pmid = f"PMID {_e(e['pmid'])}" if e.get("pmid") else _e(e.get("reference_key"))
        rows.append(
            f'<blockquote class="source-says"><span class="badge">{label}</span> '
            f'<span class="pmid">{pmid}</span> {_e(e.get("text"))}</blockquote>'
        )
    return (
        '<div class="source-evidence"><strong>What the source says</strong> '
        "(the sentence of its abstract closest to this passage):" + "".join(rows) + "</div>"
    )


def answer_html(
    answer: Answer,
    by_id: Mapping[str, Passage],
    references: Mapping[str, Reference],
    citations: Mapping[str, str],
    source_evidence: Mapping[str, Sequence[Mapping[str, object]]] | None = None,
) -> str:
    """The verdict first, in words, then one card per passage.

    `citations` maps each passage id of the answer to its citation as the assistant words it;
    `source_evidence` its `source_evidence` list from `Assistant.to_json`."""
    sentence = verdict_sentence(answer.verdict, answer.missing_concepts)
    kind = "ok" if answer.answerable else "no"
    verdict = (
        f'<p class="verdict {kind}" data-verdict="{answer.verdict.value}">'
        f'<strong>{_e(sentence)}</strong> <span class="asked">Asked: <q>{_e(answer.question)}</q>'
        "</span></p>"
    )
    if not answer.passages:
        return verdict + '<p class="error">No passages match these filters.</p>'
    cards = "".join(
        passage_card(
            rp,
            answer.answerable,
            by_id,
            references,
            citations[rp.passage.id],
            (source_evidence or {}).get(rp.passage.id, ()),
        )
        for rp in answer.passages
    )
    return f'<div class="results">{verdict}{cards}</div>'


def choice_label(d: dict) -> str:
    """A passage of `Assistant.to_json` as one line of a checkbox or dropdown."""
    text = " ".join(str(d.get("highlight") or d["text"]).split())
    text = text if len(text) <= 90 else text[:87] + "…"
    where = " · ".join(x for x in (d.get("section"), d.get("pages")) if x)
    return f"[{d['rank']}] {where} — {text}"


# ---------------------------------------------------------------------------------------------
# Messages and teaching sets


def error_html(message: str) -> str:
    return f'<p class="error" role="alert">{_e(message)}</p>'


def status_html(message: str, ok: bool = True) -> str:
    return f'<p class="status {"ok" if ok else "err"}" role="status">{_e(message)}</p>'


def set_html(ts: teaching.TeachingSet) -> str:
    """A teaching set as a list: each question, its passages (✓ the correct one), its note."""
    if not ts.items:
        return f"<p><strong>{_e(ts.name)}</strong> has no items yet.</p>"
    rows = [f"<p><strong>{_e(ts.name)}</strong> — {len(ts.items)} item(s)</p>"]
    for item in ts.items:
        correct = item.correct_passage
        passages = "".join(
            f'<div class="meta">{"✓ " if p.id == item.correct_passage_id else ""}'
            f"{_e(p.section)} · {_e(p.pages)} — “{_e(p.highlight)}”</div>"
            for p in item.passages
        )
        note = f'<div class="meta"><em>Note:</em> {_e(item.note)}</div>' if item.note else ""
        answer = " · has a correct answer" if correct else ""
        rows.append(
            f'<div class="item"><div class="q">{item.position}. {_e(item.question)}</div>'
            f'<div class="meta">{len(item.passages)} passage(s){answer}</div>{passages}{note}</div>'
        )
    return "".join(rows)


# ---------------------------------------------------------------------------------------------
# Evaluation reports as tables


def metrics_rows(report: dict) -> tuple[list[str], list[list]]:
    """Headers and rows of the retrieval table: one row per retriever, one column per metric."""
    retrievers = report.get("retrievers") or {}
    metrics: list[str] = []
    for values in retrievers.values():
        metrics.extend(m for m in values if m not in metrics)
    rows = [
        [name, *(_round(values.get(m)) for m in metrics)] for name, values in retrievers.items()
    ]
    return ["retriever", *metrics], rows


def flat(prefix: str, value: object) -> Iterable[tuple[str, object]]:
    """Nested report values as (dotted.name, value) rows of the answer table."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from flat(f"{prefix}.{k}" if prefix else str(k), v)
    elif isinstance(value, (int, float, str, bool)) or value is None:
        yield prefix, _round(value)


def _round(value: object) -> object:
    return round(value, 3) if isinstance(value, float) else value
