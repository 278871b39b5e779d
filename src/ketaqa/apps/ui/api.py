"""The named API endpoints (for `gradio_client`): /ask, /sets_list, /sets_save, /sets_export,
/evaluate.

Gradio reads each endpoint's inputs and outputs from its signature and its help from its
docstring, so both are part of the API. Errors reach clients as one escaped line.
"""

import html
import json
from dataclasses import dataclass

import gradio as gr

from ketaqa import teaching
from ketaqa.apps.ui.eval_tab import EVALUATION_QUEUE, evaluate
from ketaqa.config import MAX_TOP_K
from ketaqa.errors import InputError, KetaqaError
from ketaqa.pipeline.assistant import NOTICE, Assistant


def _api_error(exc: Exception) -> gr.Error:
    """An error for API clients; the text is escaped because Gradio may render it as HTML."""
    return gr.Error(html.escape(str(exc), quote=False), print_exception=False)


def _plain(value: dict) -> dict:
    """JSON-safe copy (numpy numbers become Python numbers, other objects text)."""
    return json.loads(
        json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    )


@dataclass(frozen=True)
class Api:
    assistant: Assistant
    store: teaching.SetStore

    def ask(self, question: str, top_k: int = 5) -> dict:
        """Answer a question: the same JSON as `ketaqa ask --json`."""
        try:
            return self.assistant.to_json(self.assistant.ask(question, top_k))
        except KetaqaError as exc:
            raise _api_error(exc) from exc

    def sets_list(self) -> list[dict]:
        """Every teaching set: name, number of items, created and updated (UTC)."""
        try:
            return [
                {"name": s.name, "items": s.items, "created": s.created, "updated": s.updated}
                for s in self.store.list_sets()
            ]
        except KetaqaError as exc:
            raise _api_error(exc) from exc

    def sets_save(
        self,
        set_name: str,
        question: str,
        passage_ids: list[str],
        note: str = "",
        correct_passage_id: str = "",
    ) -> dict:
        """Ask the question again and save the chosen passages (ids from /ask) to a set,
        creating it if needed. Returns the set name, the item's position and id."""
        try:
            result = self.assistant.to_json(self.assistant.ask(question, MAX_TOP_K))
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
            item = self.store.add_item(
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

    def sets_export(self, set_name: str, fmt: str = "markdown") -> dict:
        """Export a set: fmt is student (handout), markdown (answer key), html (printable student
        handout), html-key, csv, json or eval. Returns file_name and content."""
        try:
            ts = self.store.get_set(set_name)
            index = self.assistant.index
            doc_id = next((p.doc_id for p in index.passages if p.source == "statement"), None)
            source = index.document_citation(doc_id) if doc_id else ""
            content = teaching.export_text(ts, fmt, notice=NOTICE, source=source)
        except KetaqaError as exc:
            raise _api_error(exc) from exc
        name = ts.name + teaching.export.STEM_SUFFIX.get(fmt, "")
        return {
            "set": ts.name,
            "format": fmt,
            "file_name": teaching.safe_filename(name, teaching.EXTENSIONS[fmt]),
            "content": content,
        }

    def evaluate(self, split: str = "dev", limit: int = 0) -> dict:
        """Score every retriever on a split of eval/questions.jsonl (limit 0 = all questions)."""
        try:
            report, _ = evaluate(self.assistant, split, limit, None)
        except (KetaqaError, ImportError) as exc:
            raise _api_error(exc) from exc
        return _plain(report)


def register(assistant: Assistant, store: teaching.SetStore) -> None:
    """Add the named endpoints to the Blocks being built (call inside `with gr.Blocks()`)."""
    api = Api(assistant, store)
    gr.api(api.ask, api_name="ask")
    gr.api(api.sets_list, api_name="sets_list")
    gr.api(api.sets_save, api_name="sets_save")
    gr.api(api.sets_export, api_name="sets_export")
    gr.api(api.evaluate, api_name="evaluate", **EVALUATION_QUEUE)
