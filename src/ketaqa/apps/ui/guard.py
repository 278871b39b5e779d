"""What keeps the app bounded: a throttled login, and per-request temporary folders that are
cleaned up.

Gradio checks a login with a callable; ours waits longer after each failed attempt (all
attempts queue on one lock, so guessing in parallel gains nothing). Exports and evaluation
reports are written to per-request folders under one root per process: only the newest few
are kept, the root goes at exit, and roots left by killed processes go at the next start.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hmac
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT_PREFIX = "ketaqa-tmp-"


class LoginThrottle:
    """One username and password; after n failures in a row each attempt first waits
    `base * 2**(n-1)` seconds (at most `cap`); a success, or `forget` quiet seconds, resets."""

    def __init__(
        self,
        username: str,
        password: str,
        clock: Callable[[], float] = time.monotonic,
        base: float = 0.5,
        cap: float = 8.0,
        forget: float = 900.0,
    ):
        self._user = username.encode()
        self._password = password.encode()
        self.clock = clock
        self.base, self.cap, self.forget = base, cap, forget
        self.failures = 0
        self.last_failure = 0.0

    def delay(self) -> float:
        if self.failures and self.clock() - self.last_failure > self.forget:
            self.failures = 0
        return min(self.cap, self.base * 2 ** (self.failures - 1)) if self.failures else 0.0

    def check(self, username: str, password: str) -> bool:
        ok_user = hmac.compare_digest(str(username).encode(), self._user)
        ok_password = hmac.compare_digest(str(password).encode(), self._password)
        if ok_user and ok_password:
            self.failures = 0
            return True
        self.failures += 1
        self.last_failure = self.clock()
        return False


def auth_function(
    throttle: LoginThrottle,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Callable[[str, str], Awaitable[bool]]:
    """The coroutine Gradio calls on each login (awaited, so waiting blocks no other request)."""
    lock = asyncio.Lock()

    async def check(username: str, password: str) -> bool:
        async with lock:
            wait = throttle.delay()
            if wait:
                await sleep(wait)
            return throttle.check(username, password)

    return check


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
