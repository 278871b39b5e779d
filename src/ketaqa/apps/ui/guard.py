"""What keeps the app bounded: a login throttled per client address, idempotent saves from the Ask
tab, and per-request temporary folders that are cleaned up.

Gradio checks a login by calling a callable with the username and password only, so
`ClientAddress` (an ASGI middleware given to Gradio's FastAPI app through `app_kwargs`) puts
each request's client address where that callable can read it, and `BrowserLogins` (another)
gives a login that callable accepted a session cookie of the JSON API's own. Each address then
waits longer after each of its failed attempts (its attempts queue on one lock, so guessing in
parallel from one address gains nothing), while a user at another address is not slowed by it.
Exports and evaluation reports are written to per-request folders under one root per process:
only the newest few are kept, the root goes at exit, and roots left by killed processes go at
the next start.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import hashlib
import hmac
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from ketaqa.apps.json_api import BrowserSessions

ROOT_PREFIX = "ketaqa-tmp-"
UNKNOWN_CLIENT = "unknown"

CLIENT_ADDRESS: ContextVar[str] = ContextVar("ketaqa_client_address", default=UNKNOWN_CLIENT)
# Set by BrowserLogins around a POST /login; auth_function appends True when it accepts.
LOGIN_ACCEPTED: ContextVar[list[bool] | None] = ContextVar("ketaqa_login_accepted", default=None)


class ClientAddress:
    """ASGI middleware: the client address of each HTTP request, in `CLIENT_ADDRESS`.

    The address is the TCP peer's; behind a reverse proxy every client is the proxy (headers
    such as X-Forwarded-For are not trusted: any client can send them)."""

    def __init__(self, app: Callable[..., Awaitable[None]]):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        token = CLIENT_ADDRESS.set(str(client[0]) if client else UNKNOWN_CLIENT)
        try:
            await self.app(scope, receive, send)
        finally:
            CLIENT_ADDRESS.reset(token)


class BrowserLogins:
    """ASGI middleware: a login on the app's page opens the JSON API for that browser too.

    When `auth_function` accepted the POST /login and Gradio answers it with success, the
    response also sets a cookie holding a new token of `sessions` (HttpOnly, SameSite=Strict);
    GET /logout revokes it (every session, unless `all_session=false`, as Gradio's own logout
    does) and clears the cookie. The API checks that cookie, never Gradio's own."""

    def __init__(self, app: Callable[..., Awaitable[None]], sessions: BrowserSessions):
        self.app, self.sessions = app, sessions

    def _cookie(self, value: str, max_age: int | None = None) -> tuple[bytes, bytes]:
        age = f"; Max-Age={max_age}" if max_age is not None else ""
        line = f"{self.sessions.COOKIE}={value}; HttpOnly; Path=/; SameSite=Strict{age}"
        return b"set-cookie", line.encode("latin-1")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "").rstrip("/") if scope.get("type") == "http" else ""
        if path == "/login" and scope.get("method") == "POST":
            accepted: list[bool] = []

            async def send_login(message: dict[str, Any]) -> None:
                start = message["type"] == "http.response.start"
                if start and accepted and message["status"] < 300:
                    cookie = self._cookie(self.sessions.issue())
                    message = {**message, "headers": [*message.get("headers", []), cookie]}
                await send(message)

            token = LOGIN_ACCEPTED.set(accepted)
            try:
                await self.app(scope, receive, send_login)
            finally:
                LOGIN_ACCEPTED.reset(token)
        elif path == "/logout":
            connection = HTTPConnection(scope)
            one = connection.query_params.get("all_session", "").lower() == "false"
            self.sessions.revoke(connection.cookies.get(self.sessions.COOKIE) if one else None)

            async def send_logout(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    cookie = self._cookie("", max_age=0)
                    message = {**message, "headers": [*message.get("headers", []), cookie]}
                await send(message)

            await self.app(scope, receive, send_logout)
        else:
            await self.app(scope, receive, send)


@dataclass
class _Client:
    failures: int = 0
    last_failure: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class LoginThrottle:
    """One username and password; after n failures in a row from one client address, each
    attempt from that address first waits `base * 2**(n-1)` seconds (at most `cap`); a
    success, or `forget` quiet seconds, resets it. At most `max_clients` addresses are
    remembered (the least recently seen are forgotten first)."""

    def __init__(
        self,
        username: str,
        password: str,
        clock: Callable[[], float] = time.monotonic,
        base: float = 0.5,
        cap: float = 8.0,
        forget: float = 900.0,
        max_clients: int = 10_000,
    ):
        self._user = username.encode()
        self._password = password.encode()
        self.clock = clock
        self.base, self.cap, self.forget = base, cap, forget
        self.max_clients = max_clients
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    def client(self, address: str = UNKNOWN_CLIENT) -> _Client:
        """The record of one address, created when new (and the oldest dropped when full)."""
        record = self._clients.get(address)
        if record is None:
            record = self._clients[address] = _Client()
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
        self._clients.move_to_end(address)
        return record

    def delay(self, address: str = UNKNOWN_CLIENT) -> float:
        record = self.client(address)
        if record.failures and self.clock() - record.last_failure > self.forget:
            record.failures = 0
        n = record.failures
        return min(self.cap, self.base * 2 ** (n - 1)) if n else 0.0

    def check(self, username: str, password: str, address: str = UNKNOWN_CLIENT) -> bool:
        record = self.client(address)
        ok_user = hmac.compare_digest(str(username).encode(), self._user)
        ok_password = hmac.compare_digest(str(password).encode(), self._password)
        if ok_user and ok_password:
            record.failures = 0
            return True
        record.failures += 1
        record.last_failure = self.clock()
        return False


def auth_function(
    throttle: LoginThrottle,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Callable[[str, str], Awaitable[bool]]:
    """The coroutine Gradio calls on each login (awaited, so waiting blocks no other request);
    the client address comes from `ClientAddress`."""

    async def check(username: str, password: str) -> bool:
        address = CLIENT_ADDRESS.get()
        async with throttle.client(address).lock:
            wait = throttle.delay(address)
            if wait:
                await sleep(wait)
            accepted = throttle.check(username, password, address)
        if accepted and (logins := LOGIN_ACCEPTED.get()) is not None:
            logins.append(True)
        return accepted

    check.throttle = throttle  # type: ignore[attr-defined]  # for inspection
    return check


# -- idempotent saves from the Ask tab ---------------------------------------------------------


def new_save_token() -> str:
    """A fresh token for the answer on screen; it changes with every new answer."""
    return uuid.uuid4().hex


def save_request_id(token: str | None, set_name: str, ids: Iterable[str], *rest: str) -> str | None:
    """The request id of a save from the Ask tab: the same answer (token), set, passages,
    correct answer and note give the same id, so clicking Save again — because the first
    click seemed to do nothing — returns the saved item instead of storing it twice.
    None (a plain save) without a token."""
    if not token:
        return None
    digest = hashlib.sha256()
    for part in (token, set_name.strip().casefold(), *sorted(ids), *rest):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return "ask-" + digest.hexdigest()[:40]


class TempFolders:
    """Fresh folders for one request each; at most `keep` are kept on disk."""

    def __init__(self, keep: int = 32, parent: Path | None = None):
        self.keep = keep
        self._parent = Path(parent or tempfile.gettempdir())
        self._root: Path | None = None
        self._made: deque[Path] = deque()
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        if self._root is None:
            remove_stale_roots(self._parent)
            self._root = Path(
                tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{os.getpid()}-", dir=self._parent)
            )
            atexit.register(shutil.rmtree, self._root, True)
        return self._root

    def new(self, prefix: str) -> Path:
        with self._lock:
            folder = Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))
            self._made.append(folder)
            while len(self._made) > self.keep:
                shutil.rmtree(self._made.popleft(), ignore_errors=True)
        return folder

    def remove(self, folder: Path) -> None:
        with self._lock:
            with contextlib.suppress(ValueError):
                self._made.remove(folder)
            shutil.rmtree(folder, ignore_errors=True)

    def cleanup(self) -> None:
        with self._lock:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
            self._made.clear()
            self._root = None


def remove_stale_roots(parent: Path) -> None:
    """Remove the temporary roots of ketaqa processes that no longer run (killed, say)."""
    for root in parent.glob(f"{ROOT_PREFIX}*"):
        try:
            pid = int(root.name[len(ROOT_PREFIX) :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _running(pid):
            shutil.rmtree(root, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


FOLDERS = TempFolders()


def sweep_old_files(folder: Path, older_than: float, now: float | None = None) -> int:
    """Remove files under `folder` last changed more than `older_than` seconds ago, and the
    folders that leaves empty; the number of files removed. Vanished entries are skipped."""
    now = time.time() if now is None else now
    removed = 0
    for top, _dirs, names in os.walk(folder, topdown=False):
        for name in names:
            path = Path(top, name)
            with contextlib.suppress(OSError):
                if now - path.lstat().st_ctime > older_than:
                    path.unlink()
                    removed += 1
        if Path(top) != folder:
            with contextlib.suppress(OSError):
                Path(top).rmdir()  # only when empty
    return removed


@functools.cache
def start_cache_sweeper(folder: Path, every: float, older_than: float) -> threading.Thread:
    """Sweep Gradio's file cache on a daemon thread, one per process whatever the number of
    apps built (the tests build many).

    Gradio's own `delete_cache` removes only the copies it tracks per component; every export
    also leaves an untracked copy (seen with Gradio 6: two copies per returned file, one never
    deleted), so a 30-minute soak grew the cache to hundreds of MB. This removes every cached
    file older than `older_than`, whoever made it."""

    def sweep() -> None:
        while True:
            time.sleep(every)
            sweep_old_files(folder, older_than)

    thread = threading.Thread(target=sweep, name="ketaqa-cache-sweeper", daemon=True)
    thread.start()
    return thread
