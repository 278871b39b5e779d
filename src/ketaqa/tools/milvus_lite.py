"""A real `milvus-lite server` on 127.0.0.1 for tests and the bench: started, waited for, stopped.

Milvus Lite speaks the same gRPC API as Milvus Standalone, so what runs against it here runs
against a cluster with only the URI changed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ketaqa.config import child_env
from ketaqa.errors import KetaqaError
from ketaqa.tools.net import free_port


def available() -> str | None:
    """None when pymilvus and milvus-lite are installed, else why not."""
    missing = [m for m in ("pymilvus", "milvus_lite") if importlib.util.find_spec(m) is None]
    return f"{', '.join(missing)} not installed (pip install 'ketaqa[milvus]')" if missing else None


@dataclass
class MilvusLiteServer:
    data_dir: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: float = 90.0) -> MilvusLiteServer:
        """Start the server process and wait until its port accepts connections."""
        log = (self.data_dir.parent / f"milvus-lite-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data_dir)]
            + ["--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env(),
        )
        log.close()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise KetaqaError(f"milvus-lite server exited with {self.process.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                return self
            time.sleep(0.2)
        self.stop()
        raise KetaqaError(f"milvus-lite server did not open port {self.port} in {wait:.0f} s")

    def kill(self) -> None:
        """SIGKILL: the server dies as a crashed or unplugged one would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(data_dir: Path, port: int | None = None) -> MilvusLiteServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    return MilvusLiteServer(data_dir, port or free_port()).start()
