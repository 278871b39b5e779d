"""The named API endpoints (for `gradio_client`): /ask, /sets_list, /sets_save, /sets_export,
/evaluate.

Gradio reads each endpoint's inputs and outputs from its signature and its help from its
docstring, so both are part of the API. Arguments are type-checked here, at the boundary, and
every failure reaches clients as one escaped line (`boundary`), never as a traceback.
"""

import functools
import html
import json
import logging
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import gradio as gr

from ketaqa import teaching
from ketaqa.apps.checks import describe_os_error
from ketaqa.apps.notice import NOTICE
from ketaqa.apps.ui.eval_tab import EVALUATION_QUEUE, evaluate
from ketaqa.config import MAX_TOP_K
from ketaqa.errors import InputError, KetaqaError
from ketaqa.pipeline.answering.assistant import Assistant

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable)


def _api_error(exc: Exception) -> gr.Error:
    """An error for API clients; the text is escaped because Gradio may render it as HTML."""
    return gr.Error(html.escape(str(exc), quote=False), print_exception=False)


def error_line(exc: BaseException) -> str:
    """Any failure as the one line a user reads (the UI tabs use this too)."""
    if isinstance(exc, KetaqaError):
        return str(exc)
    if isinstance(exc, OSError):
        return describe_os_error(exc)
    if isinstance(exc, sqlite3.Error):
        return f"teaching-set database error: {exc}"
    if isinstance(exc, (UnicodeError, TypeError, ValueError)):
        return f"unusable input ({type(exc).__name__}); send text and numbers as documented"
    return f"unexpected {type(exc).__name__}; nothing was changed, try again"


def boundary(fn: F) -> F:
    """Every endpoint's failure becomes a one-line gr.Error; unexpected ones are logged as
    one line too (the client must never see `{"error": null}`)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            if not isinstance(exc, KetaqaError):
                log.warning("%s failed: %s: %s", fn.__name__, type(exc).__name__, exc)
            raise _api_error(Exception(error_line(exc))) from None

    return wrapper  # type: ignore[return-value]


def need(value: object, kind: type | tuple[type, ...], name: str) -> None:
    """InputError unless `value` is of `kind` (bool never counts as a number)."""
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise InputError(f"{name} must be {_kind_name(kind)}, not true/false")
    if not isinstance(value, kind):
        raise InputError(f"{name} must be {_kind_name(kind)}, not {type(value).__name__}")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "text", int: "a whole number", float: "a number", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _plain(value: dict) -> dict:
    """JSON-safe copy (numpy numbers become Python numbers, other objects text)."""
    return json.loads(
        json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    )


@dataclass(frozen=True)
class Api:
    assistant: Assistant
    store: teaching.SetStore

    @boundary
    def ask(self, question: str, top_k: int = 5) -> dict:
        """Answer a question: the same JSON as `ketaqa ask --json`."""
        need(question, str, "question")
        need(top_k, int, "top_k")
        return self.assistant.ask(question, top_k).to_json()

    @boundary
    def sets_list(self) -> list[dict]:
        """Every teaching set: name, number of items, created and updated (UTC)."""
        return [
            {"name": s.name, "items": s.items, "created": s.created, "updated": s.updated}
            for s in self.store.list_sets()
        ]

    @boundary
    def sets_save(
        self,
        set_name: str,
        question: str,
        passage_ids: list[str],
        note: str = "",
        correct_passage_id: str = "",
        request_id: str = "",
    ) -> dict:
        """Ask the question again and save the chosen passages (ids from /ask) to a set,
        creating it if needed. Returns the set name as stored, the item's position and id.
        Give a fresh `request_id` per save: retrying with it never saves the item twice."""
        for value, name in ((set_name, "set_name"), (question, "question"), (note, "note")):
            need(value, str, name)
        need(correct_passage_id, str, "correct_passage_id")
        need(request_id, str, "request_id")
        need(passage_ids, list, "passage_ids")
        for pid in passage_ids:
            need(pid, str, "each passage id")
        result = self.assistant.ask(question, MAX_TOP_K).to_json()
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
            request_id=request_id or None,
        )
        return {
            "set": item.set_name,
            "item": item.position,
            "item_id": item.id,
            "passages": len(item.passages),
        }

    @boundary
    def sets_export(self, set_name: str, fmt: str = "markdown") -> dict:
        """Export a set: fmt is student (handout), markdown (answer key), html (printable student
        handout), html-key, csv, json or eval. Returns file_name and content."""
        need(set_name, str, "set_name")
        need(fmt, str, "fmt")
        if fmt not in teaching.EXPORT_KINDS:
            raise InputError(
                f"unknown export format {fmt!r}; choose one of {', '.join(teaching.EXPORT_KINDS)}"
            )
        ts = self.store.get_set(set_name)
        index = self.assistant.index
        doc_id = next((p.doc_id for p in index.passages if p.source == "statement"), None)
        source = index.document_citation(doc_id) if doc_id else ""
        content = teaching.export_text(ts, fmt, notice=NOTICE, source=source)
        name = ts.name + teaching.export.STEM_SUFFIX.get(fmt, "")
        return {
            "set": ts.name,
            "format": fmt,
            "file_name": teaching.safe_filename(name, teaching.EXTENSIONS[fmt]),
            "content": content,
        }

    @boundary
    def evaluate(self, split: str = "dev", limit: int = 0) -> dict:
        """Score every retriever on a split of eval/questions.jsonl (limit 0 = all questions)."""
        need(split, str, "split")
        need(limit, (int, float), "limit")
        try:
            report, out_dir = evaluate(self.assistant, split, limit, None)
        except ImportError as exc:
            raise KetaqaError(f"the evaluation extra is not installed ({exc.name})") from exc
        shutil.rmtree(out_dir, ignore_errors=True)  # the report travels in the answer
        return _plain(report)


def register(assistant: Assistant, store: teaching.SetStore) -> None:
    """Add the named endpoints to the Blocks being built (call inside `with gr.Blocks()`)."""
    api = Api(assistant, store)
    gr.api(api.ask, api_name="ask")
    gr.api(api.sets_list, api_name="sets_list")
    gr.api(api.sets_save, api_name="sets_save")
    gr.api(api.sets_export, api_name="sets_export")
    gr.api(api.evaluate, api_name="evaluate", **EVALUATION_QUEUE)
