"""The app in headless Chromium (Debian's /usr/bin/chromium): ask, read, save, export.

Leaves a screenshot of the answered question in test-artifacts/ask.png.
"""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from pathlib import Path

import pytest

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ketaqa.config import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
QUESTION = "What are the contraindications to ketamine infusions?"
TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def base_url(assistant, settings, tmp_path_factory):
    from ketaqa.apps.ui import app as ui

    app_settings = replace(settings, data_dir=tmp_path_factory.mktemp("browser-data"))
    app = ui.build_app(assistant, app_settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ui.launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}"
    app.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    # nothing leaves the machine: fonts or anything else from outside are refused
    page.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(base_url) else route.abort()
        ),
    )
    page.goto(base_url + "/", wait_until="domcontentloaded")
    page.locator("#question textarea").wait_for()
    yield page
    context.close()


def ask(page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


def test_ask_shows_highlight_and_citation_then_save_and_export(page):
    ask(page, QUESTION)
    results = page.locator("#results")
    mark = results.locator(".card .passage mark").first
    mark.wait_for()
    assert mark.inner_text().strip()
    card = results.locator(".card").first
    assert "pp. 2–6" in card.locator(".page").inner_text()
    assert "Cohen SP" in card.locator(".citation").inner_text()
    doi = card.locator(".citation a[href^='https://doi.org/']")
    assert doi.count() == 1
    assert "Section I" in card.locator(".breadcrumb").inner_text()
    assert "not prescriptive" in page.locator("#notice").inner_text()
    assert "April 2022" in page.locator("#notice").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ask.png"), full_page=True)
    highlighted = mark.inner_text().strip()

    # save the first passage into a new set
    page.locator("#picked input[type=checkbox]").first.check()
    target = page.locator("#save-set input")
    target.fill("Week 1")
    target.press("Enter")
    page.locator("#note textarea").fill("Discuss with <b>trainees</b>")
    page.locator("#save").click()
    page.get_by_text("Saved to “Week 1” as item 1.").wait_for()

    # export it from the Teaching sets tab
    page.get_by_role("tab", name="Teaching sets").click()
    view = page.locator("#set-view")
    view.get_by_text(QUESTION).wait_for()
    assert "<b>trainees</b>" in view.inner_text()  # the note's markup is shown as text
    page.locator("#export").click()
    link = page.locator("#export-file a").first
    link.wait_for()
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "Week-1.md"
    handout = Path(download.path()).read_text(encoding="utf-8")
    assert handout.startswith("# Week 1")
    assert f"## 1. {QUESTION}" in handout
    from ketaqa.teaching import bold_lines

    for line in bold_lines(highlighted).splitlines():
        assert line.strip() in handout  # the highlight, bolded line by line
    assert "## References" in handout

    # export as JSON and import it back: a second set with the same item
    page.locator("#export-kind").get_by_text("JSON (re-importable)").click()
    page.locator("#export").click()
    page.get_by_text("Exported “Week 1” as Week-1.json.").wait_for()
    link = page.locator("#export-file a").first
    with page.expect_download() as info:
        link.click()
    exported = Path(info.value.path())
    page.locator("#import-file input[type=file]").set_input_files(
        files=[
            {"name": "Week-1.json", "mimeType": "application/json", "buffer": exported.read_bytes()}
        ]
    )
    page.locator("#import-file").get_by_text("Week-1.json").first.wait_for()
    page.locator("#import").click()
    page.get_by_text("Imported “Week 1 (2)” (1 item(s)).").wait_for()
    assert QUESTION in page.locator("#set-view").inner_text()


def test_markup_in_a_question_is_shown_as_text(page):
    question = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> dose?'
    ask(page, question)
    page.locator("#results .card").first.wait_for()
    verdict = page.locator("#results .verdict").inner_text()
    assert '<img src=x onerror="window.__pwned=1">' in verdict
    assert "<script>window.__pwned=2</script>" in verdict
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#results img").count() == 0


def test_empty_question_gets_a_plain_message(page):
    ask(page, "   ")
    page.locator("#results .error").wait_for()
    assert "question is empty" in page.locator("#results .error").inner_text()
