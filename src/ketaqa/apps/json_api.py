"""Plain JSON over HTTP: `POST /api/ask`, `GET /api/health`, `GET /api/version`, and the
OpenAPI schema at `GET /api/openapi.json`.

For hospital integrations and shell scripts that do not speak Gradio's queue. The routes are
served by the browser app itself (`ketaqa.apps.ui.app.launch(..., api=...)` hands them to
Gradio's FastAPI app), or alone by `create_app`, an ASGI factory for
`uvicorn --factory ... --workers N`. `/api/ask` returns exactly `Assistant.ask(...).to_json()`,
the `ketaqa ask --json` object. Every failure is JSON `{"error": message, "status": code}`:
400 bad input, 413 body too large, 401 when a login is configured and missing (HTTP Basic with
the app's username and password, or the session of a login on the app's page), 503 while the
index is not ready, 500 for anything else (the details go to the server log, not the client).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException

from ketaqa import __version__
from ketaqa.config import MAX_TOP_K, ServerSettings, Settings
from ketaqa.errors import IndexStateError, InputError, KetaqaError
from ketaqa.pipeline.answering.assistant import Assistant, validate_question, validate_top_k

MAX_BODY_BYTES = 32 * 1024  # a 2,000-character question, fully \u-escaped, is ~12 KiB
log = logging.getLogger(__name__)


# -- the schema: AskRequest validates the body of /api/ask; the others document the answers -----
def _checked(check: Callable[[object], object]) -> BeforeValidator:
    """The check the CLI and the UI apply too, its InputError as the ValueError Pydantic reports."""

    def validate(value: object) -> object:
        try:
            return check(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None

    return BeforeValidator(validate)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: Annotated[str, _checked(validate_question)] = Field(
        description="1 to 2,000 characters of plain text"
    )
    top_k: Annotated[int, _checked(validate_top_k)] = Field(
        5, ge=1, le=MAX_TOP_K, description="passages to return"
    )


class AskPassage(BaseModel):
    model_config = ConfigDict(extra="allow")
    rank: int
    id: str
    text: str = Field(description="the source's words, verbatim")
    highlight: str
    section: str
    page: int | None
    pages: str
    citation: str
    doi: str | None
    pmid: str | None
    score: float


class AskResponse(BaseModel):
    """The `ketaqa ask --json` object (README); fields may be added, never renamed."""

    model_config = ConfigDict(extra="allow")
    question: str
    answerable: bool
    confidence: float
    passages: list[AskPassage]


class ApiError(BaseModel):
    error: str
    status: int


class Health(BaseModel):
    status: str = Field(description='"ok", or "loading" (with status 503) until the index is')
    passages: int | None = None


class Version(BaseModel):
    ketaqa: str
    corpus: str = Field(description="fingerprint of the corpus the index was built from")
    index: str = Field(description="fingerprint of the index files being served")
    model: str
    passages: int


def _errors(*codes: int) -> dict:
    return {code: {"model": ApiError} for code in codes}


# -- helpers --------------------------------------------------------------------------------
class ApiProblem(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


def _json(value: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(
        value, ensure_ascii=False, default=lambda o: o.item() if hasattr(o, "item") else str(o)
    )
    return Response(body, status, headers, media_type="application/json")


def _problem(p: ApiProblem) -> Response:
    return _json({"error": " ".join(str(p).split()), "status": p.status}, p.status, p.headers)


def _invalid_body(exc: RequestValidationError) -> str:
    """FastAPI's 422 (the body against AskRequest) as the one line of our 400."""
    said, unknown = [], []
    for error in exc.errors():
        field = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        if error["type"] == "extra_forbidden":
            unknown.append(field)
        elif error["type"] == "missing":
            said.append(f"the request body has no {field or 'content'}")
        elif error["type"] == "value_error" and "error" in error.get("ctx", {}):
            said.append(str(error["ctx"]["error"]))
        else:
            said.append(f"{field}: {error['msg']}" if field else str(error["msg"]))
    if unknown:
        said.append(f"unknown field(s) {', '.join(sorted(unknown))}; use question and top_k")
    return "; ".join(dict.fromkeys(said)) or "the request body is not valid"


class BrowserSessions:
    """The logins made on the app's page that the API accepts, each by the random token of its
    own cookie (COOKIE). `ketaqa.apps.ui.guard.BrowserLogins` issues a token when Gradio's login
    succeeds and revokes it at logout; the newest `limit` are kept."""

    COOKIE = "ketaqa-api-session"

    def __init__(self, limit: int = 10_000):
        self.limit = limit
        self._tokens: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = None
            while len(self._tokens) > self.limit:
                self._tokens.popitem(last=False)
        return token

    def revoke(self, token: str | None = None) -> None:
        """This token, or every session when None (Gradio's logout ends all of a user's, and
        the app has one user)."""
        with self._lock:
            if token is None:
                self._tokens.clear()
            else:
                self._tokens.pop(token, None)

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            return any(secrets.compare_digest(token, known) for known in self._tokens)


def authorized(
    request: Request, server: ServerSettings, sessions: BrowserSessions | None = None
) -> bool:
    """No login configured; or HTTP Basic with the app's pair; or a session of the app's login
    page (its cookie)."""
    if server.auth is None:
        return True
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        return secrets.compare_digest(user, server.username.encode()) & secrets.compare_digest(
            password, server.password.encode()
        )
    return sessions is not None and sessions.valid(request.cookies.get(BrowserSessions.COOKIE))


async def read_body(request: Request) -> bytes:
    """The request's body if it is one JSON object, at most MAX_BODY_BYTES, or ApiProblem
    400/413. Its fields are AskRequest's to check."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiProblem(413, f"the request body is over {MAX_BODY_BYTES} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise ApiProblem(413, f"the request body is over {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(bytes(raw).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiProblem(400, "the request body is not UTF-8") from exc
    except ValueError as exc:
        raise ApiProblem(400, f"the request body is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ApiProblem(400, 'the request body must be a JSON object: {"question": "..."}')
    return bytes(raw)


def _as_json_request(request: Request, body: bytes) -> Request:
    """The request again, its body already read and declared JSON, for FastAPI to validate
    (curl -d sends form encoding by default; the API has always read the body as JSON)."""
    scope = dict(request.scope)
    scope["headers"] = [
        (k, v) for k, v in request.scope["headers"] if k not in (b"content-type", b"content-length")
    ] + [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await request.receive()

    return Request(scope, receive)


def _route_class(before: Callable[[Request], Awaitable[Request]]) -> type[APIRoute]:
    """A route whose every failure is JSON with its status: `before` (the login, the body's
    size and syntax) first, then FastAPI's validation (its 422 becomes 400), then the handler.
    An unexpected error is logged and answers 500 with no detail."""

    class JsonRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(await before(request))
                except ApiProblem as p:
                    return _problem(p)
                except RequestValidationError as exc:
                    return _problem(ApiProblem(400, _invalid_body(exc)))
                except HTTPException as exc:
                    return _problem(ApiProblem(exc.status_code, str(exc.detail)))
                except InputError as exc:
                    return _problem(ApiProblem(400, str(exc)))
                except IndexStateError as exc:
                    return _problem(ApiProblem(503, f"the index is not usable: {exc}"))
                except KetaqaError as exc:
                    return _problem(ApiProblem(500, str(exc)))
                except Exception:
                    log.exception("%s %s failed", request.method, request.url.path)
                    return _problem(ApiProblem(500, "internal error; the server log has details"))

            return guarded

    return JsonRoute


def index_fingerprint(assistant: Assistant) -> str:
    files = assistant.index.manifest.get("files", {})
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


# -- the routes -----------------------------------------------------------------------------
class JsonApi:
    """The handlers, over an assistant that may still be loading (`get_assistant` → None)."""

    def __init__(
        self,
        get_assistant: Callable[[], Assistant | None],
        server: ServerSettings,
        not_ready: Callable[[], str] = lambda: "the index is loading; try again shortly",
    ):
        self.get_assistant, self.server, self.not_ready = get_assistant, server, not_ready
        self.sessions = BrowserSessions()
        # As many questions at once as the app's queue answers (KETAQA_CONCURRENCY): more
        # threads than that only make every answer slower on a small machine.
        self.limiter = anyio.CapacityLimiter(server.concurrency)

    def _assistant(self) -> Assistant:
        assistant = self.get_assistant()
        if assistant is None:
            raise ApiProblem(503, self.not_ready(), {"Retry-After": "5"})
        return assistant

    async def _login(self, request: Request) -> Request:
        if not authorized(request, self.server, self.sessions):
            raise ApiProblem(401, "log in first", {"WWW-Authenticate": 'Basic realm="ketaqa"'})
        return request

    async def _login_and_body(self, request: Request) -> Request:
        await self._login(request)
        return _as_json_request(request, await read_body(request))

    @staticmethod
    async def _open(request: Request) -> Request:
        return request

    async def ask(self, body: AskRequest) -> Response:
        assistant = self._assistant()
        work = partial(_answer, assistant, body.question, body.top_k)
        return _json(await anyio.to_thread.run_sync(work, limiter=self.limiter))

    async def health(self) -> Response:
        assistant = self.get_assistant()
        if assistant is None:
            return _json({"status": "loading"}, 503, {"Retry-After": "5"})
        body = {"status": "ok", "passages": len(assistant.index.passages)}
        warnings = assistant.index.manifest.get("warnings") or []
        if warnings:  # the structure report's: a revision the parser did not read well
            body["warnings"] = warnings
        return _json(body)

    async def version(self) -> Response:
        assistant = self._assistant()
        fingerprint = assistant.index.manifest.get("fingerprint", {})
        return _json(
            {
                "ketaqa": __version__,
                "corpus": fingerprint.get("corpus_hash", ""),
                "index": index_fingerprint(assistant),
                "model": fingerprint.get("model_id", ""),
                "passages": len(assistant.index.passages),
            }
        )

    def router(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route(
            "/api/ask",
            self.ask,
            methods=["POST"],
            summary="Answer a question with the statement's own passages",
            response_model=AskResponse,
            responses=_errors(400, 401, 413, 500, 503),
            route_class_override=_route_class(self._login_and_body),
        )
        router.add_api_route(
            "/api/health",
            self.health,
            methods=["GET"],
            summary="Ready to answer?",
            response_model=Health,
            responses=_errors(500, 503),
            route_class_override=_route_class(self._open),
        )
        router.add_api_route(
            "/api/version",
            self.version,
            methods=["GET"],
            summary="Corpus and index fingerprints",
            response_model=Version,
            responses=_errors(401, 500, 503),
            route_class_override=_route_class(self._login),
        )
        schema = get_openapi(
            title="ketaqa JSON API",
            version=__version__,
            description=(__doc__ or "").split("\n\n", 1)[1],
            routes=router.routes,
        )
        # FastAPI documents its own 422 for a body it validates; ours is the 400 above.
        for operation in (op for path in schema["paths"].values() for op in path.values()):
            operation["responses"].pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        schema.setdefault("components", {})["securitySchemes"] = {
            "basic": {"type": "http", "scheme": "basic", "description": "only with a login"}
        }
        router.add_api_route(
            "/api/openapi.json",
            lambda: JSONResponse(schema),
            methods=["GET"],
            include_in_schema=False,
        )
        return router


def _answer(assistant: Assistant, question: str, top_k: int) -> dict:
    return assistant.ask(question, top_k).to_json()


# -- alone, for uvicorn ---------------------------------------------------------------------
class _Loader:
    """Loads the assistant in the background once the index is current (never builds it)."""

    def __init__(self, settings: Settings):
        self.settings, self.assistant, self.problem = settings, None, "the index is loading"

    def run(self) -> None:
        from ketaqa.pipeline.indexing.index import index_status

        while self.assistant is None:
            status = index_status(self.settings)
            if status == "ok":
                try:
                    self.assistant = Assistant.open_for_queries(self.settings)
                    return
                except KetaqaError as exc:
                    status = str(exc)
            self.problem = f"the index is not ready ({status}); run `ketaqa index`"
            time.sleep(5)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The JSON API without the browser app, for `uvicorn --factory` with several workers.

    Each worker loads the index read-only in the background; until then /api/ask and
    /api/health answer 503. The index is never built here: run `ketaqa index` first."""
    from ketaqa.config import offline_env

    offline_env()
    settings = settings or Settings.from_env()
    loader = _Loader(settings)
    api = JsonApi(lambda: loader.assistant, settings.server, lambda: loader.problem)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        threading.Thread(target=loader.run, name="ketaqa-index-loader", daemon=True).start()
        yield

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.include_router(api.router())
    return app
