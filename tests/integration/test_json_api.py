"""The plain JSON API: /api/ask answers exactly as `ketaqa ask --json`; bad input, size, login
and readiness get JSON errors with their status codes; the app serves it beside the UI."""

from __future__ import annotations

import base64
import socket
from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaqa.apps.json_api import MAX_BODY_BYTES, JsonApi
from ketaqa.config import ServerSettings

QUESTION = "What are the contraindications to ketamine infusions?"


def client_for(assistant, server: ServerSettings | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(JsonApi(lambda: assistant, server or ServerSettings()).router())
    return TestClient(app)


@pytest.fixture(scope="module")
def client(assistant) -> TestClient:
    return client_for(assistant)


def test_ask_returns_the_cli_json_object(client, assistant):
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
        (b'{"question": "dose?", "extra": 1}', "unknown field"),
        (b'{"top_k": 3}', "no question"),
        (b"[1, 2]", "JSON object"),
        (b"{not json", "not valid JSON"),
        (b'{"question": "\xff\xfe"}', "not UTF-8"),
        (b"", "not valid JSON"),
    ],
)
def test_bad_input_is_400_with_one_line(client, body, message):
    r = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    error = r.json()
    assert error["status"] == 400 and message in error["error"] and "\n" not in error["error"]


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


def test_not_ready_is_503(assistant):
    loading = FastAPI()
    loading.include_router(JsonApi(lambda: None, ServerSettings(), lambda: "loading").router())
    c = TestClient(loading)
    r = c.post("/api/ask", json={"question": QUESTION})
    assert r.status_code == 503 and r.json()["error"] == "loading"
    assert r.headers["retry-after"] == "5"
    assert c.get("/api/health").status_code == 503
    assert c.get("/api/version").status_code == 503


def test_health_version_and_schema(client, assistant):
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
    assert {"200", "400", "401", "413", "503"} <= set(ask["responses"])
    body = ask["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["question"]


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def test_login_is_required_when_configured(assistant):
    c = client_for(assistant, ServerSettings(username="tutor", password="s3cret"))
    body = {"question": QUESTION, "top_k": 1}
    r = c.post("/api/ask", json=body)
    assert r.status_code == 401 and "basic" in r.headers["www-authenticate"].lower()
    assert c.post("/api/ask", json=body, headers=_basic("tutor", "wrong")).status_code == 401
    assert c.post("/api/ask", json=body, headers={"authorization": "Basic !!"}).status_code == 401
    assert c.post("/api/ask", json=body, headers=_basic("tutor", "s3cret")).status_code == 200
    assert c.get("/api/version").status_code == 401
    assert c.get("/api/health").status_code == 200  # for load balancers; says nothing private


def test_the_app_serves_the_api_beside_the_ui_behind_one_login(assistant, settings, tmp_path):
    from ketaqa.apps.ui import app as ui

    login = ServerSettings(username="tutor", password="s3cret")
    app = ui.build_app(assistant, replace(settings, data_dir=tmp_path, server=login))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ui.launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True, auth=login.auth)
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
    finally:
        app.close()
