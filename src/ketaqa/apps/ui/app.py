"""The Gradio app: ask the statement, keep teaching sets, run the evaluation.

Handlers are thin: they call `Assistant.ask`, the teaching store and `run_evaluation`, and turn
the results into HTML. Every string that comes from the corpus, a question, a note or a set name
is HTML-escaped before it is shown. Passages are printed verbatim (`white-space: pre-wrap`) with
the highlighted sentence in `<mark>`.

Named API endpoints (for `gradio_client`): /ask, /sets_list, /sets_save, /sets_export, /evaluate.
The buttons of the page use private endpoints of their own.
"""

import html
import json
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import quote

import gradio as gr

from ketaqa import teaching
from ketaqa.config import MAX_QUESTION_CHARS, MAX_TOP_K, ServerSettings, Settings
from ketaqa.errors import InputError, KetaqaError
from ketaqa.pipeline.answer import Answer, RankedPassage
from ketaqa.pipeline.assistant import NOTICE, Assistant, Filters
from ketaqa.pipeline.corpus import Reference
from ketaqa.pipeline.passages import Passage

EXAMPLES = (
    "What does the statement say about ketamine for phantom limb pain?",
    "What are the contraindications to ketamine infusions?",
    "What oral ketamine dose is suggested after an infusion?",
    "What is a position statement?",
)
ALL_SOURCES = "All sources"
SOURCES = {ALL_SOURCES: (), "Statement": ("statement",), "Cited abstracts": ("abstract",)}
ALL_SECTIONS = "All sections"
SECTIONS = (
    ALL_SECTIONS,
    "Section I",
    "Section II",
    "Appendix 1",
    "Bibliography",
    "Document information",
)
EXPORT_CHOICES = (
    ("Markdown handout", "markdown"),
    ("CSV", "csv"),
    ("JSON (re-importable)", "json"),
    ("Evaluation items (JSONL)", "eval"),
)
NOT_ANSWERED = "The statement does not answer this question."

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

CSS = """
.notice { border-left: 4px solid #b45309; padding: 0.5em 0.8em; background: rgba(180,83,9,0.08);
  border-radius: 4px; }
.verdict { font-size: 1.05em; margin: 0.4em 0 0.8em; }
.verdict.no { border-left: 4px solid #b91c1c; padding: 0.4em 0.8em;
  background: rgba(185,28,28,0.08); border-radius: 4px; }
.error { border-left: 4px solid #b91c1c; padding: 0.4em 0.8em; background: rgba(185,28,28,0.08);
  border-radius: 4px; }
.card { border: 1px solid var(--border-color-primary, #d4d4d8); border-radius: 8px;
  padding: 0.7em 0.9em; margin: 0 0 0.9em; }
.card.weak { opacity: 0.92; border-style: dashed; }
.card header { display: flex; flex-wrap: wrap; gap: 0.5em; align-items: baseline;
  margin-bottom: 0.4em; }
.rank { font-weight: 700; }
.breadcrumb { font-size: 0.92em; }
.breadcrumb .sep { opacity: 0.6; padding: 0 0.2em; }
.page { font-size: 0.88em; opacity: 0.85; }
.badge { font-size: 0.8em; border-radius: 999px; padding: 0.05em 0.6em;
  border: 1px solid currentColor; }
.badge.no { color: #b91c1c; }
.badge.grade { color: #1d4ed8; }
.passage { white-space: pre-wrap; line-height: 1.5; margin: 0.3em 0; }
.passage mark, .ctx mark { background: #fde68a; color: #111; padding: 0 0.1em; }
.citation, .cited-in, .cnote, .footnotes { font-size: 0.9em; margin: 0.3em 0; }
.citation a, .cited-in a { margin-left: 0.4em; }
.cited-in .where { border: 1px solid var(--border-color-primary, #d4d4d8); border-radius: 4px;
  padding: 0 0.35em; margin-right: 0.3em; }
.footnotes p { margin: 0.1em 0; white-space: pre-wrap; }
details { margin-top: 0.4em; }
.ctx { white-space: pre-wrap; font-size: 0.92em; margin: 0.4em 0; padding-left: 0.6em;
  border-left: 3px solid var(--border-color-primary, #d4d4d8); }
.ctx.current { border-left-color: #f59e0b; }
.ctx-label { display: block; font-size: 0.85em; opacity: 0.75; white-space: normal; }
.status.ok { color: inherit; }
.status.err { color: #b91c1c; }
.item { border-top: 1px solid var(--border-color-primary, #d4d4d8); padding: 0.5em 0; }
.item .q { font-weight: 600; }
.item .meta { font-size: 0.88em; opacity: 0.85; }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# ---------------------------------------------------------------------------------------------
# Rendering (pure functions of the assistant's results)


def evidence_grades(text: str) -> list[str]:
    """Evidence grades stated in a passage's own words, each quoted as it appears."""
    return list(dict.fromkeys(m.group(0).strip().rstrip(",;") for m in GRADE_RE.finditer(text)))


def statement_doc_id(assistant: Assistant) -> str | None:
    passages = assistant.index.passages
    first = next(
        (p for p in passages if p.source == "statement"), passages[0] if passages else None
    )
    return first.doc_id if first else None


def document_date(assistant: Assistant) -> str:
    """The statement's date, as its own citation gives it (e.g. "April 2022"), or ""."""
    doc_id = statement_doc_id(assistant)
    m = DATE_RE.search(assistant.index.document_citation(doc_id)) if doc_id else None
    return m.group(1) if m else ""


def notice_html(assistant: Assistant) -> str:
    doc_id = statement_doc_id(assistant)
    citation = assistant.index.document_citation(doc_id) if doc_id else ""
    date = document_date(assistant)
    lines = [f"<strong>{_e(NOTICE)}</strong>"]
    if citation:
        lines.append(f"Source: {_e(citation)}")
    if date:
        lines.append(f"Current document: {_e(date)}.")
    lines.append(_e(abstracts_line(assistant)))
    return '<div class="notice">' + "<br>".join(lines) + "</div>"


def abstracts_line(assistant: Assistant) -> str:
    """How many cited abstracts the index holds, and how many cannot have one."""
    from ketaqa.abstracts.status import none_by_nature

    refs = list(assistant.index.references.values())
    loaded = {
        k for p in assistant.index.passages if p.source == "abstract" for k in p.reference_keys
    }
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


def _refs(assistant: Assistant, passage: Passage) -> list[Reference]:
    refs = [
        assistant.index.references[k]
        for k in passage.reference_keys
        if k in assistant.index.references
    ]
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


def _context(passage: Passage, by_id: dict[str, Passage], span: tuple[int, int]) -> str:
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
    assistant: Assistant, rp: RankedPassage, answers: bool, by_id: dict[str, Passage]
) -> str:
    p = rp.passage
    refs = _refs(assistant, p)
    header = [f'<span class="rank">[{rp.rank}]</span>', _breadcrumb(p.section.parts)]
    header.append(f'<span class="page">{_e(p.pages.label() or "page not known")}</span>')
    if not answers:
        header.append('<span class="badge no">Does not answer the question</span>')
    for grade in evidence_grades(p.text):
        header.append(
            f'<span class="badge grade" title="quoted from the passage">“{_e(grade)}”</span>'
        )
    parts = [
        f'<article class="card{"" if answers else " weak"}" data-passage-id="{_e(p.id)}">',
        f"<header>{''.join(header)}</header>",
        f'<div class="passage">{_marked(p.text, rp.highlight)}</div>',
        f'<div class="citation"><strong>Citation:</strong> {_e(assistant.citation(rp))}'
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
    parts.append(_context(p, by_id, rp.highlight))
    parts.append("</article>")
    return "".join(parts)


def answer_html(assistant: Assistant, answer: Answer, by_id: dict[str, Passage]) -> str:
    if answer.answerable:
        verdict = (
            f'<p class="verdict ok">Passages for <q>{_e(answer.question)}</q> '
            f"(confidence {answer.confidence:.2f}); the best sentence in each is marked.</p>"
        )
    else:
        verdict = (
            f'<p class="verdict no"><strong>{NOT_ANSWERED}</strong> The nearest passages are '
            f"shown below; they do not answer <q>{_e(answer.question)}</q> "
            f"(confidence {answer.confidence:.2f}).</p>"
        )
    if not answer.passages:
        return verdict + '<p class="error">No passages match these filters.</p>'
    cards = "".join(passage_card(assistant, rp, answer.answerable, by_id) for rp in answer.passages)
    return f'<div class="results">{verdict}{cards}</div>'


def _api_error(exc: Exception) -> gr.Error:
    """An error for API clients; the text is escaped because Gradio may render it as HTML."""
    return gr.Error(html.escape(str(exc), quote=False), print_exception=False)


def error_html(message: str) -> str:
    return f'<p class="error" role="alert">{_e(message)}</p>'


def status_html(message: str, ok: bool = True) -> str:
    return f'<p class="status {"ok" if ok else "err"}" role="status">{_e(message)}</p>'


def set_html(ts: teaching.TeachingSet) -> str:
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
# The app


def _filters(source: str | None, section: str | None) -> Filters | None:
    sources = SOURCES.get(source or ALL_SOURCES, ())
    chosen = None if section in (None, "", ALL_SECTIONS) else section
    if not sources and chosen is None:
        return None
    return Filters(sources=sources, section=chosen)


def _top_k(value: object) -> int:
    try:
        return int(value)  # the slider sends a number; ask() validates the range
    except (TypeError, ValueError) as exc:
        raise InputError("top-k must be a whole number") from exc


def _choice_label(d: dict) -> str:
    text = " ".join(str(d.get("highlight") or d["text"]).split())
    text = text if len(text) <= 90 else text[:87] + "…"
    where = " · ".join(x for x in (d.get("section"), d.get("pages")) if x)
    return f"[{d['rank']}] {where} — {text}"


def _metrics_rows(report: dict) -> tuple[list[str], list[list]]:
    retrievers = report.get("retrievers") or {}
    metrics: list[str] = []
    for values in retrievers.values():
        metrics.extend(m for m in values if m not in metrics)
    rows = [
        [name, *(_round(values.get(m)) for m in metrics)] for name, values in retrievers.items()
    ]
    return ["retriever", *metrics], rows


def _plain(value: dict) -> dict:
    """JSON-safe copy (numpy numbers become Python numbers, other objects text)."""
    return json.loads(
        json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    )


def _round(value: object) -> object:
    return round(value, 3) if isinstance(value, float) else value


def _flat(prefix: str, value: object) -> Iterable[tuple[str, object]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flat(f"{prefix}.{k}" if prefix else str(k), v)
    elif isinstance(value, (int, float, str, bool)) or value is None:
        yield prefix, _round(value)


def _progress_adapter(progress: gr.Progress) -> Callable[[str], None]:
    """run_evaluation reports messages; show each one on the progress bar."""

    def report(message: str) -> None:
        progress(None, desc=str(message))

    return report


def build_app(
    assistant: Assistant,
    settings: Settings | None = None,
    concurrency: int = ServerSettings.concurrency,
) -> gr.Blocks:
    settings = settings or assistant.settings
    store = teaching.TeachingStore.for_settings(settings)
    by_id = {p.id: p for p in assistant.index.passages}

    # -- handlers: thin calls into the assistant and the teaching store ------------------------
    def ask_ui(question: str, top_k: float, source: str, section: str):
        try:
            answer = assistant.ask(question, _top_k(top_k), filters=_filters(source, section))
        except KetaqaError as exc:
            empty = gr.update(choices=[], value=[])
            return (
                error_html(f"Cannot answer: {exc}"),
                None,
                empty,
                gr.update(choices=[], value=None),
            )
        result = assistant.to_json(answer)
        choices = [(_choice_label(d), d["id"]) for d in result["passages"]]
        return (
            answer_html(assistant, answer, by_id),
            result,
            gr.update(choices=choices, value=[]),
            gr.update(choices=[("(none)", ""), *choices], value=""),
        )

    def set_names() -> list[str]:
        return [s.name for s in store.list_sets()]

    def sets_view(selected: str | None, message: str, ok: bool = True, item: int | None = None):
        """(status, save-target dropdown, set dropdown, set view, item dropdown)."""
        try:
            names = set_names()
        except KetaqaError as exc:
            names, message, ok = [], f"{message} {exc}".strip(), False
        selected = selected if selected in names else (names[0] if names else None)
        view, items = "<p>No teaching sets yet: ask a question and save passages.</p>", []
        if selected:
            try:
                ts = store.get_set(selected)
                view = set_html(ts)
                items = [(f"{i.position}. {i.question[:80]}", i.id) for i in ts.items]
            except KetaqaError as exc:
                view, message, ok = "", f"{message} {exc}".strip(), False
        item_ids = [v for _, v in items]
        return (
            status_html(message, ok) if message else "",
            gr.update(choices=names),
            gr.update(choices=names, value=selected),
            view,
            gr.update(choices=items, value=item if item in item_ids else None),
        )

    def load_sets():
        return sets_view(None, "")

    def save_ui(result: dict | None, picked: list[str], correct: str, note: str, set_name: str):
        if not result:
            return sets_view(None, "Ask a question first, then pick passages to save.", False)
        ids = list(picked or [])
        if correct and correct not in ids:
            ids.append(correct)  # the correct answer is always one of the saved passages
        chosen = [d for d in result["passages"] if d["id"] in ids]
        try:
            if not chosen:
                raise InputError("pick at least one passage to save")
            item = store.add_item(
                set_name or "",
                result["question"],
                [teaching.SavedPassage.from_answer_json(d) for d in chosen],
                note or "",
                correct or None,
            )
        except KetaqaError as exc:
            return sets_view(set_name, f"Not saved: {exc}", False)
        name = teaching.clean_name(set_name)
        return sets_view(name, f"Saved to “{name}” as item {item.position}.", True, item.id)

    def show_set(name: str):
        return sets_view(name, "")

    def rename_ui(name: str, new_name: str):
        try:
            store.rename_set(name, new_name)
        except KetaqaError as exc:
            return sets_view(name, f"Not renamed: {exc}", False)
        new_name = teaching.clean_name(new_name)
        return sets_view(new_name, f"Renamed “{name}” to “{new_name}”.")

    def delete_set_ui(name: str, confirmed: bool):
        if not confirmed:
            return sets_view(name, "Tick “Yes, delete this set” first.", False)
        try:
            store.delete_set(name)
        except KetaqaError as exc:
            return sets_view(name, f"Not deleted: {exc}", False)
        return sets_view(None, f"Deleted “{name}”.")

    def move_ui(offset: int) -> Callable:
        def move(name: str, item_id: int | None):
            try:
                if item_id is None:
                    raise InputError("choose an item first")
                store.move_item(int(item_id), offset)
            except KetaqaError as exc:
                return sets_view(name, f"Not moved: {exc}", False, item_id)
            return sets_view(name, "Moved.", True, item_id)

        return move

    def delete_item_ui(name: str, item_id: int | None):
        try:
            if item_id is None:
                raise InputError("choose an item first")
            store.delete_item(int(item_id))
        except KetaqaError as exc:
            return sets_view(name, f"Not deleted: {exc}", False)
        return sets_view(name, "Item deleted.")

    def export_file(name: str, kind: str) -> Path:
        ts = store.get_set(name)
        out_dir = Path(tempfile.mkdtemp(prefix="ketaqa-export-"))
        return teaching.write_export(ts, kind, out_dir, notice=NOTICE)

    def export_ui(name: str, kind: str):
        try:
            path = export_file(name, kind)
        except KetaqaError as exc:
            return None, status_html(f"Not exported: {exc}", False)
        return str(path), status_html(f"Exported “{name}” as {path.name}.")

    def import_ui(path: str | None, selected: str | None):
        try:
            if not path:
                raise InputError("choose a JSON file exported from ketaqa first")
            ts = store.import_json(Path(path).read_bytes())
        except (KetaqaError, OSError) as exc:
            return (None, *sets_view(selected, f"Not imported, nothing changed: {exc}", False))
        return (None, *sets_view(ts.name, f"Imported “{ts.name}” ({len(ts.items)} item(s))."))

    def run_eval(
        split: str,
        limit: float | None,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (Gradio's idiom)
    ):
        try:
            report, out_dir = evaluate(split, limit, _progress_adapter(progress))
        except (KetaqaError, ImportError) as exc:
            return status_html(f"Evaluation failed: {exc}", False), None, None, None, None, None
        headers, rows = _metrics_rows(report)
        answer_rows = [[k, v] for k, v in _flat("", report.get("answer") or {})]
        files = [
            str(out_dir / f)
            for f in ("report.md", "report.json", "metrics.png", "by_tag.png")
            if (out_dir / f).exists()
        ]
        image = out_dir / "metrics.png"
        by_tag = out_dir / "by_tag.png"
        return (
            status_html(f"Evaluated the {split} split: report in {out_dir}"),
            {"headers": headers, "data": rows},
            {"headers": ["answer metric", "value"], "data": answer_rows},
            str(image) if image.exists() else None,
            str(by_tag) if by_tag.exists() else None,
            files or None,
        )

    def evaluate(split: str, limit: float | None, progress: Callable | None) -> tuple[dict, Path]:
        from ketaqa.evaluation.runs import (
            run_evaluation,  # lazily: matplotlib and ranx load only here
        )

        if split not in ("dev", "test"):
            raise InputError("split must be dev or test")
        n = int(limit) if limit else None
        if n is not None and n < 0:
            raise InputError("limit must be 0 (all) or a positive number")
        out_dir = Path(tempfile.mkdtemp(prefix=f"ketaqa-eval-{split}-"))
        report = run_evaluation(assistant, split, out_dir, limit=n, progress=progress)
        return report, out_dir

    # -- named API endpoints ---------------------------------------------------------------------
    def api_ask(question: str, top_k: int = 5) -> dict:
        """Answer a question: the same JSON as `ketaqa ask --json`."""
        try:
            return assistant.to_json(assistant.ask(question, top_k))
        except KetaqaError as exc:
            raise _api_error(exc) from exc

    def api_sets_list() -> list[dict]:
        """Every teaching set: name, number of items, created and updated (UTC)."""
        try:
            return [
                {"name": s.name, "items": s.items, "created": s.created, "updated": s.updated}
                for s in store.list_sets()
            ]
        except KetaqaError as exc:
            raise _api_error(exc) from exc

    def api_sets_save(
        set_name: str,
        question: str,
        passage_ids: list[str],
        note: str = "",
        correct_passage_id: str = "",
    ) -> dict:
        """Ask the question again and save the chosen passages (ids from /ask) to a set,
        creating it if needed. Returns the set name, the item's position and id."""
        try:
            result = assistant.to_json(assistant.ask(question, MAX_TOP_K))
            wanted = list(
                dict.fromkeys(
                    [*(passage_ids or []), *([correct_passage_id] if correct_passage_id else [])]
                )
            )
            found = {d["id"]: d for d in result["passages"]}
            missing = [pid for pid in wanted if pid not in found]
            if missing:
                raise InputError(
                    f"passage(s) {', '.join(missing)} are not among the passages for this "
                    "question; use ids returned by /ask"
                )
            item = store.add_item(
                set_name,
                result["question"],
                [teaching.SavedPassage.from_answer_json(found[pid]) for pid in wanted],
                note,
                correct_passage_id or None,
            )
        except KetaqaError as exc:
            raise _api_error(exc) from exc
        return {
            "set": teaching.clean_name(set_name),
            "item": item.position,
            "item_id": item.id,
            "passages": len(item.passages),
        }

    def api_sets_export(set_name: str, fmt: str = "markdown") -> dict:
        """Export a set: fmt is markdown, csv, json or eval. Returns file_name and content."""
        try:
            ts = store.get_set(set_name)
            content = teaching.export_text(ts, fmt, notice=NOTICE)
        except KetaqaError as exc:
            raise _api_error(exc) from exc
        name = ts.name + ("-eval-items" if fmt == "eval" else "")
        return {
            "set": ts.name,
            "format": fmt,
            "file_name": teaching.safe_filename(name, teaching.EXTENSIONS[fmt]),
            "content": content,
        }

    def api_evaluate(split: str = "dev", limit: int = 0) -> dict:
        """Score every retriever on a split of eval/questions.jsonl (limit 0 = all questions)."""
        try:
            report, _ = evaluate(split, limit, None)
        except (KetaqaError, ImportError) as exc:
            raise _api_error(exc) from exc
        return _plain(report)

    # -- layout ---------------------------------------------------------------------------------
    private = {"api_visibility": "private"}
    with gr.Blocks(
        title="ketaqa — ketamine position statement",
        analytics_enabled=False,
        delete_cache=(3600, 86400),  # exported files leave Gradio's cache after a day
    ) as app:
        gr.HTML(notice_html(assistant), css_template=CSS, js_on_load=None, elem_id="notice")
        answer_state = gr.State(None)
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                with gr.Row():
                    question = gr.Textbox(
                        label="Question",
                        placeholder="e.g. What are the contraindications to ketamine infusions?",
                        lines=2,
                        max_length=MAX_QUESTION_CHARS,
                        scale=5,
                        elem_id="question",
                    )
                    ask_button = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                gr.Examples(examples=[[q] for q in EXAMPLES], inputs=[question])
                with gr.Accordion("Options", open=False), gr.Row():
                    top_k = gr.Slider(1, 20, value=5, step=1, label="Passages (top-k)")
                    source = gr.Radio(list(SOURCES), value=ALL_SOURCES, label="Source")
                    section = gr.Dropdown(list(SECTIONS), value=ALL_SECTIONS, label="Section")
                results = gr.HTML(
                    "<p>Ask a question to see the passages that answer it, verbatim.</p>",
                    css_template=CSS,
                    js_on_load=None,
                    elem_id="results",
                )
                with gr.Accordion("Save to a teaching set", open=True):
                    picked = gr.CheckboxGroup(
                        choices=[], label="Passages to save", elem_id="picked"
                    )
                    with gr.Row():
                        correct = gr.Dropdown(
                            choices=[], label="Correct answer (optional)", elem_id="correct"
                        )
                        save_set = gr.Dropdown(
                            choices=[],
                            label="Teaching set (choose or type a new name)",
                            allow_custom_value=True,
                            elem_id="save-set",
                        )
                    note = gr.Textbox(label="Note", lines=2, elem_id="note")
                    save_button = gr.Button("Save to set", elem_id="save")
                    save_status = gr.HTML(
                        "", css_template=CSS, js_on_load=None, elem_id="save-status"
                    )
            with gr.Tab("Teaching sets", id="sets"):
                with gr.Row():
                    set_select = gr.Dropdown(choices=[], label="Set", scale=3, elem_id="set-select")
                    refresh_button = gr.Button("Refresh", scale=1)
                set_view = gr.HTML("", css_template=CSS, js_on_load=None, elem_id="set-view")
                sets_status = gr.HTML("", css_template=CSS, js_on_load=None, elem_id="sets-status")
                with gr.Row():
                    item_select = gr.Dropdown(choices=[], label="Item", scale=3)
                    up_button = gr.Button("Move up", scale=1)
                    down_button = gr.Button("Move down", scale=1)
                    delete_item_button = gr.Button("Delete item", scale=1, variant="stop")
                with gr.Row():
                    new_name = gr.Textbox(label="New name", scale=3)
                    rename_button = gr.Button("Rename set", scale=1)
                with gr.Row():
                    confirm_delete = gr.Checkbox(label="Yes, delete this set", value=False)
                    delete_set_button = gr.Button("Delete set", variant="stop")
                with gr.Row():
                    export_kind = gr.Radio(
                        list(EXPORT_CHOICES),
                        value="markdown",
                        label="Export as",
                        elem_id="export-kind",
                    )
                    export_button = gr.Button("Export", variant="primary", elem_id="export")
                export_out = gr.File(label="Download", interactive=False, elem_id="export-file")
                export_status = gr.HTML(
                    "", css_template=CSS, js_on_load=None, elem_id="export-status"
                )
                with gr.Row():
                    import_file = gr.File(
                        label="Import a set (JSON exported from ketaqa)",
                        file_types=[".json"],
                        type="filepath",
                        elem_id="import-file",
                    )
                    import_button = gr.Button("Import", elem_id="import")
            with gr.Tab("Evaluation", id="evaluation"):
                gr.Markdown(
                    "Score every retriever on the curated question set (`eval/questions.jsonl`). "
                    "Tune on **dev**; report on **test**."
                )
                with gr.Row():
                    split = gr.Radio(["dev", "test"], value="dev", label="Split")
                    limit = gr.Number(value=0, precision=0, minimum=0, label="Questions (0 = all)")
                    eval_button = gr.Button("Run evaluation", variant="primary")
                eval_status = gr.HTML("", css_template=CSS, js_on_load=None)
                metrics_table = gr.Dataframe(label="Retrieval metrics", interactive=False)
                answer_table = gr.Dataframe(label="Answer metrics", interactive=False)
                with gr.Row():
                    metrics_plot = gr.Image(label="Metrics", type="filepath", interactive=False)
                    tag_plot = gr.Image(label="By tag", type="filepath", interactive=False)
                report_files = gr.File(label="Report", file_count="multiple", interactive=False)

        # -- events -----------------------------------------------------------------------------
        ask_inputs = [question, top_k, source, section]
        ask_outputs = [results, answer_state, picked, correct]
        ask_button.click(ask_ui, ask_inputs, ask_outputs, **private)
        question.submit(ask_ui, ask_inputs, ask_outputs, **private)

        view = [sets_status, save_set, set_select, set_view, item_select]
        save_outputs = [save_status, save_set, set_select, set_view, item_select]
        app.load(load_sets, None, view, **private)
        save_button.click(
            save_ui, [answer_state, picked, correct, note, save_set], save_outputs, **private
        )
        set_select.input(show_set, [set_select], view, **private)
        refresh_button.click(show_set, [set_select], view, **private)
        rename_button.click(rename_ui, [set_select, new_name], view, **private)
        delete_set_button.click(delete_set_ui, [set_select, confirm_delete], view, **private)
        up_button.click(move_ui(-1), [set_select, item_select], view, **private)
        down_button.click(move_ui(+1), [set_select, item_select], view, **private)
        delete_item_button.click(delete_item_ui, [set_select, item_select], view, **private)
        export_button.click(
            export_ui, [set_select, export_kind], [export_out, export_status], **private
        )
        import_button.click(import_ui, [import_file, set_select], [import_file, *view], **private)
        eval_button.click(
            run_eval,
            [split, limit],
            [eval_status, metrics_table, answer_table, metrics_plot, tag_plot, report_files],
            concurrency_limit=1,
            concurrency_id="evaluate",
            **private,
        )

        gr.api(api_ask, api_name="ask")
        gr.api(api_sets_list, api_name="sets_list")
        gr.api(api_sets_save, api_name="sets_save")
        gr.api(api_sets_export, api_name="sets_export")
        gr.api(api_evaluate, api_name="evaluate", concurrency_limit=1, concurrency_id="evaluate")

    app.queue(default_concurrency_limit=concurrency, max_size=64)
    return app


def launch(
    app: gr.Blocks,
    host: str = ServerSettings.host,
    port: int = ServerSettings.port,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
    auth: tuple[str, str] | None = None,
):
    """Serve the app locally (never a public share link), behind a login when `auth` is set."""
    return app.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        share=False,
        inbrowser=False,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        show_error=False,
    )
