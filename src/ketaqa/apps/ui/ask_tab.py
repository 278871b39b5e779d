"""The Ask tab: a question in, the passages that answer it out, and saving them to a set.

The handlers are thin calls into `Assistant.ask` and the teaching store; each returns a dict
keyed by the components it updates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import gradio as gr

from ketaqa import teaching
from ketaqa.apps.ui import render
from ketaqa.apps.ui.guard import new_save_token, save_request_id
from ketaqa.apps.ui.sets_tab import SetsView
from ketaqa.apps.ui.widgets import CSS, PRIVATE, html_box
from ketaqa.config import MAX_QUESTION_CHARS
from ketaqa.errors import InputError, KetaqaError
from ketaqa.pipeline.answering.assistant import Assistant, Filters
from ketaqa.pipeline.documents.passages import Passage

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


def search_filters(source: str | None, section: str | None) -> Filters | None:
    """The Options accordion as the assistant's filters; None when nothing narrows the search."""
    sources = SOURCES.get(source or ALL_SOURCES, ())
    chosen = None if section in (None, "", ALL_SECTIONS) else section
    if not sources and chosen is None:
        return None
    return Filters(sources=sources, section=chosen)


def parse_top_k(value: object) -> int:
    try:
        return int(value)  # the slider sends a number; ask() validates the range
    except (TypeError, ValueError) as exc:
        raise InputError("top-k must be a whole number") from exc


# The results box's script: the cards' "Save to set" and "Correct answer" toggles are buttons
# with aria-pressed; the choice stays in the page until Save reads it (`PICKS_JS`).
CARD_TOGGLES_JS = """
element.addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b) return;
  const card = b.closest('.card');
  const on = b.getAttribute('aria-pressed') !== 'true';
  const press = (x, v) => x && x.setAttribute('aria-pressed', v ? 'true' : 'false');
  if (b.dataset.action === 'correct' && on) {
    element.querySelectorAll('button[data-action=correct]').forEach((x) => press(x, false));
    press(card.querySelector('button[data-action=save]'), true);
  }
  if (b.dataset.action === 'save' && !on) {
    press(card.querySelector('button[data-action=correct]'), false);
  }
  press(b, on);
  const n = element.querySelectorAll('button[data-action=save][aria-pressed=true]').length;
  const c = element.querySelector('button[data-action=correct][aria-pressed=true]');
  const out = document.querySelector('#pick-summary');
  if (out) {
    out.textContent = n === 0 ? 'No passage chosen yet: use “Save to set” on a card.'
      : `${n} passage(s) chosen` + (c ? `; correct answer: ${c.closest('.card')
          .querySelector('.rank').textContent}` : '') + '.';
  }
});
"""
# Save reads the cards' toggles from the page into the hidden `picks` box, as JSON.
PICKS_JS = """
(result, picks, note, setName, token) => {
  const root = document.querySelector('#results');
  const ids = (sel) => [...(root ? root.querySelectorAll(sel) : [])].map((b) => b.dataset.id);
  const save = ids('button[data-action=save][aria-pressed=true]');
  const correct = ids('button[data-action=correct][aria-pressed=true]')[0] || null;
  return [result, JSON.stringify({save, correct}), note, setName, token];
}
"""
# After an answer: bring the verdict into view (a phone shows it below the fold) and focus it,
# so a keyboard or screen-reader user lands on the answer.
SHOW_ANSWER_JS = """
() => {
  const v = document.querySelector('#results .verdict, #results .error');
  if (!v) return;
  const r = v.getBoundingClientRect();
  if (r.top < 0 || r.bottom > window.innerHeight * 0.6) v.scrollIntoView({block: 'start'});
  v.focus({preventScroll: true});
}
"""
ENTER_HINT = "Enter asks; Shift+Enter starts a new line."
NO_PICKS = "No passage chosen yet: use “Save to set” on a card."


@dataclass(frozen=True)
class AskTab:
    answer_state: gr.State  # the last answer as `Assistant.to_json`, for saving
    question: gr.Textbox
    ask_button: gr.Button
    top_k: gr.Slider
    source: gr.Radio
    section: gr.Dropdown
    results: gr.HTML
    picks: gr.Textbox  # hidden: the cards' toggles as JSON, filled by PICKS_JS on Save
    pick_summary: gr.HTML
    save_set: gr.Dropdown
    note: gr.Textbox
    save_button: gr.Button
    save_status: gr.HTML


def build() -> AskTab:
    """The tab's components, laid out; call inside `gr.Tab`."""
    answer_state = gr.State(None)
    with gr.Row(equal_height=True, elem_id="ask-row"):
        question = gr.Textbox(
            label="Question",
            info=ENTER_HINT,
            placeholder="e.g. What are the contraindications to ketamine infusions?",
            lines=1,
            max_lines=6,
            max_length=MAX_QUESTION_CHARS,
            scale=5,
            elem_id="question",
        )
        ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
    results = gr.HTML(
        "<p>Ask a question to see the passages that answer it, verbatim.</p>",
        css_template=CSS,
        js_on_load=CARD_TOGGLES_JS,
        elem_id="results",
    )
    with gr.Group(elem_id="save-bar"):
        pick_summary = html_box(f'<p role="status">{NO_PICKS}</p>', elem_id="pick-summary")
        with gr.Row():
            save_set = gr.Dropdown(
                choices=[],
                label="Teaching set (choose or type a new name)",
                allow_custom_value=True,
                elem_id="save-set",
                scale=3,
            )
            save_button = gr.Button("Save chosen passages", elem_id="save", scale=1)
        note = gr.Textbox(label="Note for this question (optional)", lines=1, elem_id="note")
        save_status = html_box(elem_id="save-status")
    picks = gr.Textbox(visible=False, elem_id="picks")
    gr.Examples(examples=[[q] for q in EXAMPLES], inputs=[question], label="Example questions")
    with gr.Accordion("Options", open=False), gr.Row():
        top_k = gr.Slider(1, 20, value=5, step=1, label="Passages (top-k)")
        source = gr.Radio(list(SOURCES), value=ALL_SOURCES, label="Source")
        section = gr.Dropdown(list(SECTIONS), value=ALL_SECTIONS, label="Section")
    return AskTab(
        answer_state=answer_state,
        question=question,
        ask_button=ask_button,
        top_k=top_k,
        source=source,
        section=section,
        results=results,
        picks=picks,
        pick_summary=pick_summary,
        save_set=save_set,
        note=note,
        save_button=save_button,
        save_status=save_status,
    )


def parse_picks(raw: str | None, result: dict) -> tuple[list[str], str | None]:
    """The cards' toggles (JSON from the page) as passage ids of this answer, and the correct
    one; ids the answer does not hold are refused."""
    try:
        doc = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise InputError("the passages chosen could not be read; choose them again") from exc
    known = {d["id"] for d in result["passages"]}
    save = [str(i) for i in (doc.get("save") or []) if str(i) in known]
    correct = doc.get("correct")
    correct = str(correct) if correct and str(correct) in known else None
    if correct and correct not in save:
        save.append(correct)  # the correct answer is always one of the saved passages
    return save, correct


@dataclass(frozen=True)
class AskEvents:
    """Asking, and saving the chosen passages; `saved` shows the sets after a save."""

    tab: AskTab
    assistant: Assistant
    by_id: Mapping[str, Passage]
    saved: SetsView

    def ask_ui(self, question: str, top_k: float, source: str, section: str) -> dict:
        tab = self.tab
        no_picks = f'<p role="status">{NO_PICKS}</p>'
        try:
            answer = self.assistant.ask(
                question, parse_top_k(top_k), filters=search_filters(source, section)
            )
        except KetaqaError as exc:
            return {
                tab.results: render.error_html(f"Cannot answer: {exc}"),
                tab.answer_state: None,
                tab.pick_summary: no_picks,
            }
        return {
            tab.results: render.answer_html(
                answer, self.by_id, self.assistant.index.references, actions=True
            ),
            tab.answer_state: answer.to_json(),
            tab.pick_summary: no_picks,
        }

    def save_ui(
        self,
        result: dict | None,
        picks: str,
        note: str,
        set_name: str,
        token: str | None = None,
    ) -> dict:
        if not result:
            return self.saved.show(None, "Ask a question first, then choose passages.", False)
        try:
            ids, correct = parse_picks(picks, result)
            if not ids:
                raise InputError("choose at least one passage with “Save to set” on its card")
            chosen = [d for d in result["passages"] if d["id"] in ids]
            item = self.saved.store.add_item(
                set_name or "",
                result["question"],
                [teaching.SavedPassage.from_answer_json(d) for d in chosen],
                note or "",
                correct or None,
                request_id=save_request_id(token, set_name or "", ids, correct or "", note or ""),
            )
        except KetaqaError as exc:
            return self.saved.show(set_name, f"Not saved: {exc}", False)
        name = teaching.clean_name(set_name)
        return self.saved.show(name, f"Saved to “{name}” as item {item.position}.", True, item.id)


def wire(tab: AskTab, assistant: Assistant, by_id: Mapping[str, Passage], saved: SetsView) -> None:
    """Connect asking (Enter or the button), bringing the answer into view, and saving."""
    events = AskEvents(tab, assistant, by_id, saved)
    inputs = [tab.question, tab.top_k, tab.source, tab.section]
    outputs = [tab.results, tab.answer_state, tab.pick_summary]
    for trigger in (tab.ask_button.click, tab.question.submit):
        trigger(events.ask_ui, inputs, outputs, **PRIVATE).then(
            None, None, None, js=SHOW_ANSWER_JS, **PRIVATE
        )
    save_token = gr.State(new_save_token)  # a new one with each answer: Save is idempotent
    tab.answer_state.change(new_save_token, None, save_token, **PRIVATE)
    tab.save_button.click(
        events.save_ui,
        [tab.answer_state, tab.picks, tab.note, tab.save_set, save_token],
        saved.outputs,
        js=PICKS_JS,
        **PRIVATE,
    )
