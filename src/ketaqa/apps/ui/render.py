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

from ketaqa.abstracts.status import none_by_nature
from ketaqa.apps.notice import NOTICE
from ketaqa.apps.ui.cards import (  # noqa: F401  (the answer's HTML, re-exported for callers)
    RELATED_BADGE,
    answer_html,
    cited_references,
    evidence_grades,
    passage_card,
    source_evidence_html,
)
from ketaqa.pipeline.documents.corpus import Reference
from ketaqa.pipeline.documents.passages import Passage

if TYPE_CHECKING:
    from ketaqa import teaching

DATE_RE = re.compile(
    r"((?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\s+\d{4})\s*$"
)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# ---------------------------------------------------------------------------------------------
# The notice above the tabs


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


def abstracts_counts(
    references: Mapping[str, Reference], passages: Iterable[Passage]
) -> tuple[int, int, int]:
    """(abstracts indexed, references that can have one, references that have none by nature)."""
    refs = list(references.values())
    loaded = {k for p in passages if p.source == "abstract" for k in p.reference_keys}
    can_have = [r for r in refs if none_by_nature(r) is None]
    have = sum(1 for r in can_have if r.key in loaded)
    return have, len(can_have), len(refs) - len(can_have)


def abstracts_line(references: Mapping[str, Reference], passages: Iterable[Passage]) -> str:
    """How many cited abstracts the index holds, and how many cannot have one."""
    have, can_have, by_nature = abstracts_counts(references, passages)
    return (
        f"Cited abstracts indexed: {have} of {can_have} references that have one "
        f"({by_nature} have none by nature: letters, commentaries, reports, books)."
    )


MAINTAINER_HINT = (
    "For maintainers: load the missing abstracts with <code>ketaqa abstracts fetch</code> "
    "(from PubMed) or <code>ketaqa abstracts import FILE</code> (NBIB or RIS), then "
    "<code>ketaqa index</code>."
)


def notice_html(citation: str, abstracts: str = "") -> str:
    """The clinicians' banner: the not-a-guideline notice, the statement's citation and date.

    `abstracts` is accepted for older callers and no longer shown here: the corpus status is
    in `about_corpus_html`, away from the clinicians' reading."""
    date = document_date(citation)
    lines = [f"<strong>{_e(NOTICE)}</strong>"]
    if citation:
        lines.append(f"Source: {_e(citation)}")
    if date:
        lines.append(f"Current document: {_e(date)}.")
    return '<div class="notice">' + "<br>".join(lines) + "</div>"


def about_corpus_html(abstracts: str, complete: bool, warnings: Sequence[str] = ()) -> str:
    """The "About this corpus" panel: what the index holds and, when abstracts are missing,
    the maintainers' commands (as code, not as instructions to clinicians); any warning of
    the structure report (a revision the parser did not read well) first."""
    hint = "" if complete else f'<p class="maint">{MAINTAINER_HINT}</p>'
    warned = "".join(f'<p class="maint warning">{_e(w)}</p>' for w in warnings)
    return f'<div class="about">{warned}<p>{_e(abstracts)}</p>{hint}</div>'


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
