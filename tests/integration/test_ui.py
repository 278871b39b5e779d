"""The Gradio app: rendering real answers, and its named API driven by gradio_client against a live
server. The renderers on plain corpus data are tested in tests/unit/test_render.py."""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import replace

import pytest

from ketaqa.pipeline.answering.verdict import verdict_sentence

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ketaqa import teaching
from ketaqa.apps.notice import NOTICE
from ketaqa.apps.ui import app as ui
from ketaqa.apps.ui import ask_tab, render
from ketaqa.config import REPO_ROOT
from ketaqa.tools.net import free_port

pytestmark = pytest.mark.slow

CONTRAINDICATIONS = "What are the contraindications to ketamine infusions?"


@pytest.fixture(scope="module")
def by_id(assistant):
    return {p.id: p for p in assistant.index.passages}


def answer_page(assistant, answer, by_id) -> str:
    return render.answer_html(answer, by_id, assistant.index.references)


@pytest.fixture(scope="module")
def server(assistant, settings, tmp_path_factory):
    """The app served in-process on a free port of 127.0.0.1, with its own data folder."""
    app_settings = replace(settings, data_dir=tmp_path_factory.mktemp("ui-data"))
    app = ui.build_app(assistant, app_settings)
    port = free_port()
    ui.launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/", app_settings
    app.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server[0], verbose=False)


# -- rendering -----------------------------------------------------------------------------------


def test_question_with_markup_is_shown_as_text(assistant, by_id):
    question = "<script>alert('x')</script> What oral ketamine dose is suggested?"
    answer = assistant.ask(question, top_k=3)
    page = answer_page(assistant, answer, by_id)
    assert "<script>" not in page
    assert html.escape(answer.question) in page
    assert page.count('<div class="passage">') == len(answer.passages)
    assert page.count("<mark>") >= len(answer.passages)


def test_card_shows_verbatim_passage_citation_links_and_context(assistant, by_id):
    answer = assistant.ask(CONTRAINDICATIONS, top_k=3)
    assert answer.answerable
    rp = answer.passages[0]
    card = render.passage_card(rp.ranked, True, by_id, assistant.index.references, rp.citation)
    start, end = rp.highlight
    assert f"<mark>{html.escape(rp.passage.text[start:end])}</mark>" in card
    text_only = re.sub(r"<[^>]+>", "", card.split('<div class="passage">', 1)[1].split("</div>")[0])
    assert html.unescape(text_only) == rp.passage.text  # verbatim, nothing added or dropped
    assert html.escape(rp.passage.pages.label()) in card
    assert html.escape(rp.citation) in card
    ref = assistant.index.references["cohen2018"]
    assert f"https://doi.org/{ref.doi}" in card
    assert f"https://pubmed.ncbi.nlm.nih.gov/{ref.pmid}/" in card
    assert 'class="cited-in"' in card and ">A-2<" in card
    assert "<details><summary>Context" in card
    assert html.escape(by_id[rp.passage.prev_id].text) in card


def test_unanswerable_says_so_first(assistant, by_id):
    answer = assistant.ask("What is the price of ketamine in New Zealand dollars?", top_k=3)
    assert not answer.answerable
    page = answer_page(assistant, answer, by_id)
    sentence = html.escape(verdict_sentence(answer.verdict, answer.missing_concepts))
    assert page.index(sentence) < page.index("<article")
    assert page.count(render.RELATED_BADGE) == len(answer.passages)


def test_notice_carries_the_document_date(assistant):
    notice = ui.notice(assistant)
    assert html.escape(NOTICE) in notice and "April 2022" in notice


def test_filters_map_to_the_assistant():
    assert ask_tab.search_filters(ask_tab.ALL_SOURCES, ask_tab.ALL_SECTIONS) is None
    f = ask_tab.search_filters("Statement", "Appendix 1")
    assert f.sources == ("statement",) and f.section == "Appendix 1"
    assert ask_tab.search_filters("Cited abstracts", None).sources == ("abstract",)


# -- the live app ----------------------------------------------------------------------------------


def test_api_lists_the_named_endpoints(client):
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/ask", "/sets_list", "/sets_save", "/sets_export", "/evaluate"} <= set(named)
    assert not any(name.startswith("/ask_ui") for name in named)  # page events stay private


def test_ask_save_and_export(client, server):
    result = client.predict(CONTRAINDICATIONS, 3, api_name="/ask")
    assert result["answerable"] is True
    assert len(result["passages"]) == 3
    first = result["passages"][0]
    assert first["highlight"] in first["text"]
    assert first["citation"] and first["pages"] == "pp. 2–6"
    ids = [p["id"] for p in result["passages"][:2]]

    saved = client.predict(
        "Week 1 <b>",
        CONTRAINDICATIONS,
        ids,
        "Discuss <i>psychoses</i>",
        ids[0],
        api_name="/sets_save",
    )
    assert saved == {"set": "Week 1 <b>", "item": 1, "item_id": saved["item_id"], "passages": 2}
    assert client.predict(api_name="/sets_list")[0]["name"] == "Week 1 <b>"

    md = client.predict("Week 1 <b>", "markdown", api_name="/sets_export")
    assert md["file_name"] == "Week-1-b.md"
    assert "## 1. What are the contraindications to ketamine infusions?" in md["content"]
    for line in teaching.bold_lines(first["highlight"]).splitlines():
        assert line in md["content"]  # the highlight, bolded line by line inside the quote
    assert "**" in md["content"]
    assert "&lt;i&gt;psychoses" in md["content"]
    assert "## References" in md["content"] and "1. Cohen SP" in md["content"]

    exported = json.loads(client.predict("Week 1 <b>", "json", api_name="/sets_export")["content"])
    assert [p["id"] for p in exported["items"][0]["passages"]] == ids

    csv_text = client.predict("Week 1 <b>", "csv", api_name="/sets_export")["content"]
    assert csv_text.splitlines()[0].startswith("set,item,question")

    evals = client.predict("Week 1 <b>", "eval", api_name="/sets_export")
    item = json.loads(evals["content"])
    assert item["gold_spans"] == [first["highlight"]]
    assert item["tags"] == ["teaching-set"] and item["split"] == "dev"

    db = server[1].data_dir / "teaching.sqlite3"
    assert db.exists()


def test_api_errors_are_one_clear_line(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="question is empty"):
        client.predict("   ", 3, api_name="/ask")
    with pytest.raises(AppError, match="top-k must be between"):
        client.predict(CONTRAINDICATIONS, 500, api_name="/ask")
    with pytest.raises(AppError, match="not among the passages"):
        client.predict("S", CONTRAINDICATIONS, ["nowhere:0-1"], "", "", api_name="/sets_save")
    with pytest.raises(AppError, match="no set named"):
        client.predict("Missing set", "markdown", api_name="/sets_export")
    with pytest.raises(AppError, match="unknown export format"):
        client.predict("Week 1 <b>", "pdf", api_name="/sets_export")


def fake_run_evaluation(
    assistant, split, out_dir, questions_path=None, limit=None, progress=None, baseline=None
):
    """Stands in for ketaqa.evaluation.run.run_evaluation (tested in test_evaluation.py): same
    signature, same files, in milliseconds."""
    import numpy as np

    if progress:
        progress(f"evaluating {limit} questions ({split})")
    metrics = {"hit@1": np.float64(0.5), "recall@5": 0.75, "mrr@10": 0.6, "ndcg@10": 0.65}
    report = {
        "split": split,
        "retrievers": {name: dict(metrics) for name in ("bm25", "dense", "full")},
        "answer": {"abstain_accuracy": 0.9, "span_found": {"top1": 0.5}},
        "by_tag": {},
        "limit": limit,
    }
    (out_dir / "report.json").write_text(json.dumps(report, default=float), encoding="utf-8")
    (out_dir / "report.md").write_text("# report\n", encoding="utf-8")
    return report


def test_evaluate_endpoint(client, monkeypatch):
    evaluation = pytest.importorskip("ketaqa.evaluation.run")
    monkeypatch.setattr(evaluation, "run_evaluation", fake_run_evaluation)
    report = client.predict("dev", 4, api_name="/evaluate")
    assert report["split"] == "dev" and report["limit"] == 4
    assert report["retrievers"]["bm25"]["hit@1"] == 0.5  # numpy numbers arrive as JSON numbers
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="split must be dev or test"):
        client.predict("train", 0, api_name="/evaluate")


def test_app_py_serves_the_app(assistant, settings, tmp_path):
    """`python app.py --port N` loads the existing index once and serves on 127.0.0.1."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    env = {
        **os.environ,
        "KETAQA_CORPUS_DIR": str(settings.corpus_dir),
        "KETAQA_INDEX_DIR": str(settings.index_dir),
        "KETAQA_DATA_DIR": str(tmp_path),
        "KETAQA_HOST": "127.0.0.1",
    }
    log = tmp_path / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "app.py"), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "loading the index" in text and "rebuilding" not in text


def test_login_is_required_when_auth_is_set(assistant, settings, tmp_path):
    import httpx
    from gradio_client import Client

    app = ui.build_app(assistant, replace(settings, data_dir=tmp_path))
    port = free_port()
    ui.launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True, auth=("doc", "s3cret"))
    try:
        url = f"http://127.0.0.1:{port}/"
        assert httpx.get(url + "config", timeout=10).status_code in (401, 403)
        with pytest.raises(Exception):  # noqa: B017 - any refusal will do; it must not connect
            Client(url, verbose=False)
        client = Client(url, auth=("doc", "s3cret"), verbose=False)
        answer = client.predict("What is a position statement?", 1, api_name="/ask")
        assert answer["passages"]

        # Failed logins slow down the address they come from, not everyone: two wrong
        # passwords from 127.0.0.2 (the loopback network) leave 127.0.0.1 unthrottled.
        throttle = app.auth.throttle
        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        with other:
            for _ in range(2):
                wrong = {"username": "doc", "password": "guess"}
                assert other.post(url + "login", data=wrong, timeout=30).status_code == 400
        assert throttle.delay("127.0.0.2") == 1.0 and throttle.delay("127.0.0.1") == 0.0
        right = {"username": "doc", "password": "s3cret"}
        assert httpx.post(url + "login", data=right, timeout=30).status_code == 200
    finally:
        app.close()


def test_save_from_the_ask_tab_is_idempotent(assistant, by_id, tmp_path):
    """Clicking Save again with the same answer, set, passages and note (the first click's
    reply lost, say) returns the saved item; a new answer or any change saves anew."""
    import gradio as gr

    from ketaqa.apps.ui import sets_tab
    from ketaqa.apps.ui.guard import new_save_token

    store = teaching.TeachingStore(tmp_path / "teaching.sqlite3")
    with gr.Blocks():
        tab, sets = ask_tab.build(), sets_tab.build()
    view = sets_tab.SetsView(
        store, tab.save_status, tab.save_set, sets.set_select, sets.set_view, sets.item_select
    )
    events = ask_tab.AskEvents(tab, assistant, by_id, view)
    result = assistant.ask(CONTRAINDICATIONS, 3).to_json()
    first, second = (d["id"] for d in result["passages"][:2])
    token = new_save_token()

    def status(out: dict) -> str:
        return html.unescape(str(out[tab.save_status]))

    def picks(passage_id: str) -> str:  # what the cards' toggles send
        return json.dumps({"save": [passage_id], "correct": None})

    assert "as item 1." in status(events.save_ui(result, picks(first), "n", "Week 1", token))
    assert "as item 1." in status(events.save_ui(result, picks(first), "n", "Week 1", token))
    assert "as item 2." in status(events.save_ui(result, picks(first), "m", "Week 1", token))
    assert "as item 3." in status(events.save_ui(result, picks(second), "n", "Week 1", token))
    again = new_save_token()  # the same answer asked again: a new save
    assert "as item 4." in status(events.save_ui(result, picks(first), "n", "Week 1", again))
    assert [s.items for s in store.list_sets()] == [4]
