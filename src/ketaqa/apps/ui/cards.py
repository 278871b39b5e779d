"""The answer as HTML: the verdict in words, then one compact card per passage.

Pure functions of passages, references and an answer (no Gradio, no `Assistant`). Passages are
verbatim: `ketaqa.text.source_html` shows the source file's emphasis as emphasis and its
conversion artefacts de-emphasised, and keeps every character (the asterisks of the file's
markup stay in the page, hidden, so a copy of the HTML still reads as the file). Each
reference's full citation is shown once per answer; later cards point back to the first card
that showed it. "Cited in A-2" chips are links to that appendix item's passage.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

from ketaqa.pipeline.answering.answer import RankedPassage
from ketaqa.pipeline.answering.verdict import unrecognised_sentence
from ketaqa.pipeline.answering.view import AnswerView
from ketaqa.pipeline.documents.corpus import Reference
from ketaqa.pipeline.documents.passages import Passage
from ketaqa.text import has_artefacts, source_html

RELATED_BADGE = "Related passage, not an answer"
ARTEFACT_NOTE = (
    "Greyed marks such as [SEP] or ** are in the source file, left by its conversion from the "
    "PDF; they are not the statement's words."
)
# An appendix item's own passage starts with its label: "A-2. Cohen SP …", "- C-1.** (a) …".
ITEM_LABEL_RE = re.compile(r"^\s*(?:- )?([A-Z]-\d+)\.")
GRADE_RE = re.compile(
    r"\bGRADE:\s*[^()\n“”\"]{1,80}?(?=[)”\"\n]|$)"
    r"|\b[Gg]rade [A-D]\b"  # a bare "grade A" is not enough: it needs what it grades
    r"(?:\s+(?:recommendation|evidence)(?:,\s*(?:[a-z]+\s+){0,4}level of certainty)?"
    r"|,\s*(?:[a-z]+\s+){0,4}level of certainty)"
)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def evidence_grades(text: str) -> list[str]:
    """Evidence grades stated in a passage's own words, each quoted as it appears."""
    return list(dict.fromkeys(m.group(0).strip().rstrip(",;") for m in GRADE_RE.finditer(text)))


def cited_references(references: Mapping[str, Reference], passage: Passage) -> list[Reference]:
    """The references a passage cites, placeholders only when there is nothing better."""
    refs = [references[k] for k in passage.reference_keys if k in references]
    return [r for r in refs if r.kind != "placeholder"] or refs


def item_passages(passages: Iterable[Passage]) -> dict[str, Passage]:
    """Appendix item label ("A-2") → the passage that lists it, for the "Cited in" links."""
    out: dict[str, Passage] = {}
    for p in passages:
        m = ITEM_LABEL_RE.match(p.text)
        if m:
            out.setdefault(m.group(1), p)
    return out


def short_citation(refs: Sequence[Reference], citation: str) -> str:
    """One line naming the source: "Cohen SP et al., 2018", else the citation's start."""
    if refs and refs[0].authors:
        first = refs[0].authors.split(",")[0].strip()
        more = " et al." if "," in refs[0].authors else ""
        return f"{first}{more}, {refs[0].year}" if refs[0].year else f"{first}{more}"
    return citation if len(citation) <= 60 else citation[:57].rstrip() + "…"


def reference_links(ref: Reference) -> str:
    links = []
    if ref.doi:
        href = "https://doi.org/" + quote(ref.doi, safe="/:;()._-<>[]")
        links.append(f'<a href="{_e(href)}" target="_blank" rel="noopener">doi:{_e(ref.doi)}</a>')
    if ref.pmid and ref.pmid.isdigit():
        href = f"https://pubmed.ncbi.nlm.nih.gov/{ref.pmid}/"
        links.append(f'<a href="{href}" target="_blank" rel="noopener">PubMed {ref.pmid}</a>')
    return "".join(links)


def _breadcrumb(parts: Iterable[str]) -> str:
    crumbs = '<span class="sep">›</span>'.join(f"<span>{_e(p)}</span>" for p in parts)
    return f'<nav class="breadcrumb" aria-label="Section">{crumbs}</nav>'


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
        body = source_html(p.text, span if cls == "current" else None)
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


def citation_html(
    refs: Sequence[Reference],
    citation: str,
    first_card: int | None,
    chip_targets: Mapping[str, str],
) -> str:
    """The citation collapsed to one line (details on tap), or a pointer to the card above
    that already shows it in full."""
    if first_card is not None:
        return (
            f'<p class="citation same">Citation: same source as '
            f'<a href="#card-{first_card}">[{first_card}]</a></p>'
        )
    body = [f'<p class="full">{_e(citation)}</p>']
    links = "".join(reference_links(r) for r in refs)
    if links:
        body.append(f'<p class="links">{links}</p>')
    cited_in = list(dict.fromkeys(c for r in refs for c in r.cited_in))
    if cited_in:
        chips = "".join(
            f'<a class="where" href="#{chip_targets[c]}">{_e(c)}</a>'
            if c in chip_targets
            else f'<span class="where">{_e(c)}</span>'
            for c in cited_in
        )
        body.append(f'<p class="cited-in">Cited in {chips}</p>')
    for r in refs:
        if r.citation_note:
            body.append(
                f'<p class="cnote"><em>Note on this citation:</em> {_e(r.citation_note)}</p>'
            )
    return (
        '<details class="citation"><summary><strong>Citation:</strong> '
        f'<span class="short">{_e(short_citation(refs, citation))}</span></summary>'
        + "".join(body)
        + "</details>"
    )


def card_actions(passage_id: str) -> str:
    """The card's own teaching-set toggles, handled by the results box's script (ask_tab)."""
    pid = _e(passage_id)
    return (
        '<div class="card-actions">'
        f'<button type="button" class="toggle" data-action="save" data-id="{pid}" '
        'aria-pressed="false">Save to set</button>'
        f'<button type="button" class="toggle" data-action="correct" data-id="{pid}" '
        'aria-pressed="false">Correct answer</button></div>'
    )


def passage_card(
    rp: RankedPassage,
    answers: bool,
    by_id: Mapping[str, Passage],
    references: Mapping[str, Reference],
    citation: str,
    source_evidence: Sequence[Mapping[str, object]] = (),
    *,
    first_card: int | None = None,
    chip_targets: Mapping[str, str] | None = None,
    actions: bool = False,
) -> str:
    """One ranked passage: where it is, its grades, the text verbatim, how to cite it.

    `first_card` is the rank of an earlier card that already shows this citation in full."""
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
        f'<article class="card{"" if answers else " weak"}" id="card-{rp.rank}" '
        f'data-passage-id="{_e(p.id)}">',
        f"<header>{''.join(header)}</header>",
        f'<div class="passage">{source_html(p.text, rp.highlight)}</div>',
    ]
    if has_artefacts(p.text):
        parts.append(f'<p class="artefact-note">{_e(ARTEFACT_NOTE)}</p>')
    parts.append(citation_html(refs, citation, first_card, chip_targets or {}))
    if p.footnotes:
        notes = "".join(f"<p>{source_html(f.text)}</p>" for f in p.footnotes)
        parts.append(f'<div class="footnotes"><strong>Footnotes:</strong>{notes}</div>')
    parts.append(source_evidence_html(source_evidence))
    parts.append(_context(p, by_id, rp.highlight))
    if actions:
        parts.append(card_actions(p.id))
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
        '<details class="source-evidence"><summary>What the source says</summary>'
        "<p>The sentence of its abstract closest to this passage:</p>"
        + "".join(rows)
        + "</details>"
    )


def cited_items_html(items: Mapping[str, Passage]) -> str:
    """The appendix items the cards' "Cited in" chips point to and no card shows."""
    if not items:
        return ""
    rows = "".join(
        f'<div class="cited-item" id="item-{_e(label)}" tabindex="-1">'
        f'<span class="ctx-label">{_e(label)} — {_e(p.section)} · {_e(p.pages.label())}</span>'
        f"{source_html(p.text)}</div>"
        for label, p in items.items()
    )
    return (
        '<section class="cited-items" aria-label="Appendix items cited above">'
        "<h3>Appendix items cited above</h3>" + rows + "</section>"
    )


def answer_html(
    answer: AnswerView,
    by_id: Mapping[str, Passage],
    references: Mapping[str, Reference],
    actions: bool = False,
) -> str:
    """The verdict first, in words, then one card per passage, then the cited appendix items.

    Each card shows the citation and source evidence the view carries; `actions` adds the
    cards' save and correct-answer toggles."""
    sentence = answer.sentence
    kind = "ok" if answer.answerable else "no"
    unread = unrecognised_sentence(answer.unrecognised)
    verdict = (
        f'<p class="verdict {kind}" data-verdict="{answer.verdict.value}" tabindex="-1">'
        f'<strong>{_e(sentence)}</strong> <span class="asked">Asked: <q>{_e(answer.question)}</q>'
        "</span></p>" + (f'<p class="unrecognised" role="note">{_e(unread)}</p>' if unread else "")
    )
    if not answer.passages:
        return verdict + '<p class="error">No passages match these filters.</p>'
    items = item_passages(by_id.values())
    on_cards = {rp.passage.id: rp.rank for rp in answer.passages}
    targets: dict[str, str] = {}
    shown_items: dict[str, Passage] = {}
    for rp in answer.passages:
        for ref in cited_references(references, rp.passage):
            for label in ref.cited_in:
                item = items.get(label)
                if item is None or label in targets:
                    continue
                if item.id in on_cards:
                    targets[label] = f"card-{on_cards[item.id]}"
                else:
                    targets[label] = f"item-{label}"
                    shown_items[label] = item
    first_shown: dict[str, int] = {}
    cards = []
    for rp in answer.passages:
        citation = rp.citation
        cards.append(
            passage_card(
                rp.ranked,
                answer.answerable,
                by_id,
                references,
                citation,
                [e.to_json() for e in rp.source_evidence],
                first_card=first_shown.get(citation),
                chip_targets=targets,
                actions=actions,
            )
        )
        first_shown.setdefault(citation, rp.rank)
    return f'<div class="results">{verdict}{"".join(cards)}{cited_items_html(shown_items)}</div>'
