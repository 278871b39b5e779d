"""The Gradio app: ask the statement, keep teaching sets, run the evaluation.

One module per tab (`ask_tab`, `sets_tab`, `eval_tab`), each with a `build()` that lays out its
components and returns them by name, and a `wire()` that connects its events through those
names; `api` adds the named endpoints and `render` turns results into HTML. Everything is
built first, then wired, because saving on the Ask tab refreshes the Teaching sets tab.
`launch(..., api=JsonApi(...))` also serves the plain JSON API of `ketaqa.apps.json_api`
(/api/ask, ...) on the same port, behind the same login.
"""

from dataclasses import replace
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from ketaqa import teaching
from ketaqa.apps.json_api import JsonApi
from ketaqa.apps.ui import api, ask_tab, eval_tab, render, sets_tab
from ketaqa.apps.ui.guard import (
    BrowserLogins,
    ClientAddress,
    LoginThrottle,
    auth_function,
    start_cache_sweeper,
)
from ketaqa.apps.ui.widgets import PAGE_CSS, html_box
from ketaqa.config import ServerSettings, Settings
from ketaqa.pipeline.answering.assistant import Assistant

MAX_UPLOAD = "10mb"  # a teaching-set JSON export is limited to 10 MB too


def notice(assistant: Assistant) -> str:
    """The notice above the tabs, from what the index holds."""
    return render.notice_html(document_source(assistant))


def document_source(assistant: Assistant) -> str:
    """The statement as handouts name it: its citation (college, title, date)."""
    index = assistant.index
    doc_id = render.statement_doc_id(index.passages)
    return index.document_citation(doc_id) if doc_id else ""


def about_corpus(assistant: Assistant) -> str:
    """The "About this corpus" panel: the abstracts status and the maintainers' hints."""
    index = assistant.index
    have, can_have, _ = render.abstracts_counts(index.references, index.passages)
    line = render.abstracts_line(index.references, index.passages)
    warnings = index.manifest.get("warnings") or []
    return render.about_corpus_html(line, have >= can_have, warnings)


GRADIO_CACHE = (60, 600)  # (check every s, delete older than s)


def build_app(
    assistant: Assistant,
    settings: Settings | None = None,
    concurrency: int = ServerSettings.concurrency,
) -> gr.Blocks:
    settings = settings or assistant.settings
    store = teaching.open_store(settings)
    by_id = {p.id: p for p in assistant.index.passages}
    with gr.Blocks(
        title="ketaqa — ketamine position statement",
        analytics_enabled=False,
        # Gradio keeps copies of every exported file for the browser to download; checked each
        # minute, copies older than 10 minutes go (here for the copies Gradio tracks, and by
        # `start_cache_sweeper` below for the ones it does not), so the cache levels off
        delete_cache=GRADIO_CACHE,
    ) as app:
        html_box(notice(assistant), elem_id="notice")
        with gr.Accordion("About this corpus", open=False, elem_id="about-corpus"):
            html_box(about_corpus(assistant), elem_id="about")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                ask = ask_tab.build()
            with gr.Tab("Teaching sets", id="sets"):
                sets = sets_tab.build()
            with gr.Tab("Evaluation", id="evaluation"):
                evaluation = eval_tab.build()

        sets_view = sets_tab.SetsView(
            store=store,
            status=sets.status,
            save_target=ask.save_set,
            set_select=sets.set_select,
            set_view=sets.set_view,
            item_select=sets.item_select,
        )
        ask_tab.wire(ask, assistant, by_id, replace(sets_view, status=ask.save_status))
        sets_tab.wire(app, sets, sets_view, document_source(assistant))
        eval_tab.wire(evaluation, assistant)
        api.register(assistant, store)

    every, older_than = GRADIO_CACHE
    start_cache_sweeper(Path(gr.utils.get_upload_folder()), every, older_than)
    app.queue(default_concurrency_limit=concurrency, max_size=64)
    return app


def json_api(assistant: Assistant, server: ServerSettings) -> JsonApi:
    """The JSON API over this app's assistant, for `launch(..., api=...)`; `server` gives its
    login and how many questions it answers at once (as the app's queue does)."""
    return JsonApi(lambda: assistant, server)


def fastapi_kwargs(api: JsonApi | None, login: bool) -> dict[str, object]:
    """What Gradio builds its FastAPI app with (`app_kwargs`): the JSON API's routes, first;
    and with a login, the middleware that hands the login throttle each client's address and
    gives a login on the page a session of the JSON API."""
    kwargs: dict[str, object] = {"routes": list(api.router().routes) if api else []}
    if login:
        middleware = [Middleware(ClientAddress)]
        if api is not None:
            middleware.append(Middleware(BrowserLogins, sessions=api.sessions))
        kwargs["middleware"] = middleware
    return kwargs


def launch(
    app: gr.Blocks,
    host: str = ServerSettings.host,
    port: int = ServerSettings.port,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
    auth: tuple[str, str] | None = None,
    api: JsonApi | None = None,
):
    """Serve the app locally (never a public share link), behind a login when `auth` is set;
    the login covers every page and endpoint (/evaluate included), and failed attempts are
    throttled per client address. Uploads are capped at MAX_UPLOAD. With `api` (`json_api`),
    the JSON API is served on the same port (`fastapi_kwargs`)."""
    return app.launch(
        app_kwargs=fastapi_kwargs(api, login=auth is not None),
        server_name=host,
        server_port=port,
        auth=auth_function(LoginThrottle(*auth)) if auth else None,
        max_file_size=MAX_UPLOAD,
        share=False,
        inbrowser=False,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        show_error=False,
        css=PAGE_CSS,
    )
