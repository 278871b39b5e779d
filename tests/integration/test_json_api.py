"""The plain JSON API: /api/ask answers exactly as `ketaqa ask --json`; bad input, size, login,
readiness and unexpected errors get JSON errors with their status codes; the app serves it
beside the UI. Only the tests marked slow use the real assistant (the embedding model); the
others answer with a stand-in, since what they check happens around the answer."""

from __future__ import annotations

import base64
import logging
from dataclasses import replace
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI, Form
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.testclient import TestClient

from ketaqa.apps.json_api import MAX_BODY_BYTES, BrowserSessions, JsonApi
from ketaqa.config import ServerSettings
from ketaqa.tools.net import free_port

QUESTION = "What are the contraindications to ketamine infusions?"


class _View(dict):
    def to_json(self) -> dict:
        return dict(self)


class StandIn:
    """Answers like an Assistant without the model: one passage per top_k. Both ways of
    rendering an answer (`to_json(answer)` and `answer.to_json()`) give the same object."""

    def __init__(self):
        self.index = SimpleNamespace(
            passages=[object()] * 7,
            manifest={"fingerprint": {"corpus_hash": "c0ffee", "model_id": "m"}, "files": {}},
        )

    def ask(self, question: str, top_k: int = 5) -> _View:
        passages = [{"rank": i + 1} for i in range(top_k)]
        return _View(question=question, answerable=True, confidence=1.0, passages=passages)

    def to_json(self, answer: _View) -> dict:
        return answer.to_json()


def client_for(assistant, server: ServerSettings | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(JsonApi(lambda: assistant, server or ServerSettings()).router())
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client() -> TestClient:
    return client_for(StandIn())


@pytest.mark.slow
def test_ask_returns_the_cli_json_object(assistant):
    client = client_for(assistant)
    r = client.post("/api/ask", json={"question": QUESTION, "top_k": 3})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == assistant.ask(QUESTION, 3).to_json()
    assert len(r.json()["passages"]) == 3
    default = client.post("/api/ask", json={"question": QUESTION}).json()
    assert len(default["passages"]) == 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"question": ""}', "empty"),
        (b'{"question": "a\\u0000b"}', "control"),
        ('{"question": "' + "x" * 2001 + '"}', "limit is 2000"),
        (b'{"question": 42}', "must be text"),
        (b'{"question": "dose?", "top_k": 0}', "between 1 and 50"),
        (b'{"question": "dose?", "top_k": "3"}', "whole number"),
        (b'{"question": "dose?", "top_k": true}', "whole number"),
        (b'{"question": "dose?", "extra": 1}', "unknown field(s) extra; use question"),
        (b'{"top_k": 3}', "no question"),
        (b'{"top_k": 0, "b": 1, "a": 2}', "no question; top-k must be between"),
        (b'{"question": ["dose?"]}', "must be text"),
        (b"[1, 2]", "JSON object"),
        (b"{not json", "not valid JSON"),
        (b'{"question": "\xff\xfe"}', "not UTF-8"),
        (b"", "not valid JSON"),
    ],
)
def test_bad_input_is_400_with_one_line(client, body, message):
    r = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    error = r.json()
    assert error["status"] == 400 and message in error["error"] and "\n" not in error["error"]
    assert "unknown field(s) a, b; use" in client.post("/api/ask", json={"a": 1, "b": 2}).text


def test_the_body_is_json_whatever_its_declared_type(client):
    """`curl -d` declares form encoding; the body is read as JSON all the same."""
    form = {"content-type": "application/x-www-form-urlencoded"}
    r = client.post("/api/ask", content=b'{"question": "Oral dose?", "top_k": 2}', headers=form)
    assert r.status_code == 200 and len(r.json()["passages"]) == 2
    assert r.json()["question"] == "Oral dose?"


def test_an_unexpected_error_is_json_500_without_its_details(client, monkeypatch, caplog):
    def broken(question, top_k=5):
        raise RuntimeError("secret /srv/index path in a traceback")

    monkeypatch.setattr(StandIn, "ask", staticmethod(broken))
    with caplog.at_level(logging.ERROR, logger="ketaqa.apps.json_api"):
        r = client.post("/api/ask", json={"question": QUESTION})
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "internal error; the server log has details", "status": 500}
    assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
    assert "RuntimeError: secret" in caplog.text  # the operator still sees what happened


def test_too_large_body_is_413(client):
    body = '{"question": "' + "a" * MAX_BODY_BYTES + '"}'
    r = client.post("/api/ask", content=body)
    assert r.status_code == 413 and r.json()["status"] == 413

    def chunks():  # no Content-Length: the limit holds while reading
        yield b'{"question": "'
        for _ in range(40):
            yield b"a" * 1024
        yield b'"}'

    assert client.post("/api/ask", content=chunks()).status_code == 413


def test_not_ready_is_503():
    loading = FastAPI()
    loading.include_router(JsonApi(lambda: None, ServerSettings(), lambda: "loading").router())
    c = TestClient(loading)
    r = c.post("/api/ask", json={"question": QUESTION})
    assert r.status_code == 503 and r.json()["error"] == "loading"
    assert r.headers["retry-after"] == "5"
    assert c.get("/api/health").status_code == 503
    assert c.get("/api/version").status_code == 503


def test_health_version_and_schema(client):
    assistant = StandIn()
    assert client.get("/api/health").json() == {
        "status": "ok",
        "passages": len(assistant.index.passages),
    }
    v = client.get("/api/version").json()
    assert v["corpus"] == assistant.index.manifest["fingerprint"]["corpus_hash"]
    assert len(v["index"]) == 16 and v["passages"] == len(assistant.index.passages)
    schema = client.get("/api/openapi.json").json()
    assert set(schema["paths"]) == {"/api/ask", "/api/health", "/api/version"}
    ask = schema["paths"]["/api/ask"]["post"]
    assert {"200", "400", "401", "413", "500", "503"} <= set(ask["responses"])
    assert "422" not in ask["responses"]  # FastAPI's validation error is our 400
    body = ask["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert body["required"] == ["question"] and body["additionalProperties"] is False
    assert set(body["properties"]) == {"question", "top_k"}


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def test_login_is_required_when_configured():
    c = client_for(StandIn(), ServerSettings(username="tutor", password="s3cret"))
    body = {"question": QUESTION, "top_k": 1}
    r = c.post("/api/ask", json=body)
    assert r.status_code == 401 and "basic" in r.headers["www-authenticate"].lower()
    assert c.post("/api/ask", json=body, headers=_basic("tutor", "wrong")).status_code == 401
    assert c.post("/api/ask", json=body, headers={"authorization": "Basic !!"}).status_code == 401
    assert c.post("/api/ask", json=body, headers=_basic("tutor", "s3cret")).status_code == 200
    assert c.get("/api/version").status_code == 401
    assert c.get("/api/health").status_code == 200  # for load balancers; says nothing private
    # the login comes first: a stranger learns nothing about what a body should be
    assert c.post("/api/ask", content=b"{not json").status_code == 401


def test_a_login_on_the_page_opens_the_api_until_logout():
    """BrowserLogins gives a login that auth_function accepted a session of the API's own;
    a refused login gets none, and logging out ends it. (Here a stand-in /login and /logout
    answer as Gradio's do; the app's own are exercised by the slow test below.)"""
    from ketaqa.apps.ui import app as ui
    from ketaqa.apps.ui.guard import LoginThrottle, auth_function

    server = ServerSettings(username="tutor", password="s3cret")
    api = JsonApi(lambda: StandIn(), server)
    app = FastAPI(**ui.fastapi_kwargs(api, login=True))
    check = auth_function(LoginThrottle("tutor", "s3cret"), sleep=lambda s: _no_wait())

    @app.post("/login")
    async def login(username: str = Form(), password: str = Form()):
        if await check(username, password):
            return JSONResponse({"success": True})
        return JSONResponse({"detail": "Incorrect credentials."}, 400)

    @app.get("/logout")
    def logout():
        return RedirectResponse("/", 302)

    c = TestClient(app, follow_redirects=False)
    body = {"question": QUESTION, "top_k": 1}
    refused = c.post("/login", data={"username": "tutor", "password": "guess"})
    assert refused.status_code == 400 and BrowserSessions.COOKIE not in refused.cookies
    assert c.post("/api/ask", json=body).status_code == 401
    assert c.post("/login", data={"username": "tutor", "password": "s3cret"}).status_code == 200
    assert c.post("/api/ask", json=body).status_code == 200
    token = c.cookies[BrowserSessions.COOKIE]
    c.get("/logout")
    assert c.post("/api/ask", json=body).status_code == 401
    c.cookies.set(BrowserSessions.COOKIE, token)  # a copied cookie is dead too
    assert c.post("/api/ask", json=body).status_code == 401


async def _no_wait() -> None:
    return None


@pytest.mark.slow
def test_the_app_serves_the_api_beside_the_ui_behind_one_login(assistant, settings, tmp_path):
    from ketaqa.apps.ui import app as ui

    login = ServerSettings(username="tutor", password="s3cret")
    app = ui.build_app(assistant, replace(settings, data_dir=tmp_path, server=login))
    port = free_port()
    api = ui.json_api(assistant, login)
    ui.launch(
        app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True, auth=login.auth, api=api
    )
    base = f"http://127.0.0.1:{port}"
    body = {"question": QUESTION, "top_k": 2}
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            assert http.post("/api/ask", json=body).status_code == 401
            r = http.post("/api/ask", json=body, headers=_basic("tutor", "s3cret"))
            assert r.status_code == 200 and len(r.json()["passages"]) == 2
            # the browser's login (Gradio's cookie) opens the API too
            assert http.post("/login", data={"username": "tutor", "password": "s3cret"}).is_success
            assert http.post("/api/ask", json=body).status_code == 200
            assert http.get("/").status_code == 200  # the UI is still there
            http.get("/logout")  # and logging out of the page closes the API again
            assert http.post("/api/ask", json=body).status_code == 401
            failing = http.post("/api/ask", json={"question": QUESTION, "top_k": 0})
            assert failing.status_code == 401  # the login comes before the body
    finally:
        app.close()
