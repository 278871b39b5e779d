"""The Ask tab: a question in, the passages that answer it out, and saving them to a set.

The handlers are thin calls into `Assistant.ask` and the teaching store; each returns a dict
keyed by the components it updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import gradio as gr

from ketaqa import teaching
from ketaqa.apps.ui import render
from ketaqa.apps.ui.guard import new_save_token, save_request_id
from ketaqa.apps.ui.sets_tab import SetsView
from ketaqa.apps.ui.widgets import PRIVATE, html_box
from ketaqa.config import MAX_QUESTION_CHARS
from ketaqa.errors import InputError, KetaqaError
from ketaqa.pipeline.assistant import Assistant, Filters
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


@dataclass(frozen=True)
class AskTab:
    answer_state: gr.State  # the last answer as `Assistant.to_json`, for saving
    question: gr.Textbox
    ask_button: gr.Button
    top_k: gr.Slider
    source: gr.Radio
    section: gr.Dropdown
    results: gr.HTML
    picked: gr.CheckboxGroup
    correct: gr.Dropdown
    save_set: gr.Dropdown
    note: gr.Textbox
    save_button: gr.Button
    save_status: gr.HTML


def build() -> AskTab:
    """The tab's components, laid out; call inside `gr.Tab`."""
    answer_state = gr.State(None)
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
    results = html_box(
        "<p>Ask a question to see the passages that answer it, verbatim.</p>", elem_id="results"
    )
    with gr.Accordion("Save to a teaching set", open=True):
        picked = gr.CheckboxGroup(choices=[], label="Passages to save", elem_id="picked")
        with gr.Row():
            correct = gr.Dropdown(choices=[], label="Correct answer (optional)", elem_id="correct")
            save_set = gr.Dropdown(
                choices=[],
                label="Teaching set (choose or type a new name)",
                allow_custom_value=True,
                elem_id="save-set",
            )
        note = gr.Textbox(label="Note", lines=2, elem_id="note")
        save_button = gr.Button("Save to set", elem_id="save")
        save_status = html_box(elem_id="save-status")
    return AskTab(
        answer_state=answer_state,
        question=question,
        ask_button=ask_button,
        top_k=top_k,
        source=source,
        section=section,
        results=results,
        picked=picked,
        correct=correct,
        save_set=save_set,
        note=note,
        save_button=save_button,
        save_status=save_status,
    )


@dataclass(frozen=True)
class AskEvents:
    """Asking, and saving the chosen passages; `saved` shows the sets after a save."""

    tab: AskTab
    assistant: Assistant
    by_id: Mapping[str, Passage]
    saved: SetsView

    def ask_ui(self, question: str, top_k: float, source: str, section: str) -> dict:
        tab = self.tab
        try:
            answer = self.assistant.ask(
                question, parse_top_k(top_k), filters=search_filters(source, section)
            )
        except KetaqaError as exc:
            return {
                tab.results: render.error_html(f"Cannot answer: {exc}"),
                tab.answer_state: None,
                tab.picked: gr.update(choices=[], value=[]),
                tab.correct: gr.update(choices=[], value=None),
            }
        result = self.assistant.to_json(answer)
        citations = {rp.passage.id: self.assistant.citation(rp) for rp in answer.passages}
        references = self.assistant.index.references
        choices = [(render.choice_label(d), d["id"]) for d in result["passages"]]
        return {
            tab.results: render.answer_html(
                answer,
                self.by_id,
                references,
                citations,
                {d["id"]: d["source_evidence"] for d in result["passages"]},
            ),
            tab.answer_state: result,
            tab.picked: gr.update(choices=choices, value=[]),
            tab.correct: gr.update(choices=[("(none)", ""), *choices], value=""),
        }

    def save_ui(
        self,
        result: dict | None,
        picked: list[str],
        correct: str,
        note: str,
        set_name: str,
        token: str | None = None,
    ) -> dict:
        if not result:
            return self.saved.show(None, "Ask a question first, then pick passages to save.", False)
        ids = list(picked or [])
        if correct and correct not in ids:
            ids.append(correct)  # the correct answer is always one of the saved passages
        chosen = [d for d in result["passages"] if d["id"] in ids]
        try:
            if not chosen:
                raise InputError("pick at least one passage to save")
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
    """Connect asking (button or Enter) and saving."""
    events = AskEvents(tab, assistant, by_id, saved)
    inputs = [tab.question, tab.top_k, tab.source, tab.section]
    outputs = [tab.results, tab.answer_state, tab.picked, tab.correct]
    tab.ask_button.click(events.ask_ui, inputs, outputs, **PRIVATE)
    tab.question.submit(events.ask_ui, inputs, outputs, **PRIVATE)
    save_token = gr.State(new_save_token)  # a new one with each answer: Save is idempotent
    tab.answer_state.change(new_save_token, None, save_token, **PRIVATE)
    tab.save_button.click(
        events.save_ui,
        [tab.answer_state, tab.picked, tab.correct, tab.note, tab.save_set, save_token],
        saved.outputs,
        **PRIVATE,
    )
