"""A private PostgreSQL server for the tests: Debian's binaries, a temporary data directory,
a free port on 127.0.0.1 and a temporary socket directory; stopped and removed at the end.

PostgreSQL refuses to run as root, so under root (CI containers) the server runs as the
`postgres` user that Debian's package creates. Without the binaries the tests that need the
server are skipped, and the skip says how to install them.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketaqa.tools.net import free_port

INSTALL_HINT = "apt-get install postgresql (what .ci/run and make test do as root)"


def _bindir() -> Path | None:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    def __init__(self, bindir: Path, root: Path, as_user: str | None):
        self.bindir, self.root, self.as_user = bindir, root, as_user
        self.data, self.sockets = root / "data", root / "sockets"
        self.port = free_port()
        self._names = itertools.count(1)

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stderr or done.stdout}\n{tail}")

    def start(self) -> None:
        self.sockets.mkdir()
        if self.as_user:
            shutil.chown(self.sockets, user=self.as_user)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"ketaqa_test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def emptied(self, url: str) -> str:
        """`url` with ketaqa's schema dropped (quicker than a new database per test)."""
        import psycopg

        with psycopg.connect(url, autocommit=True) as con:
            con.execute("DROP SCHEMA IF EXISTS ketaqa CASCADE")
        return url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install '.[postgres]'")
    bindir = _bindir()
    if bindir is None:
        pytest.skip(f"PostgreSQL server binaries not found; {INSTALL_HINT}")
    as_user = None
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root and runuser is missing; PostgreSQL refuses root")
        as_user = "postgres"
        try:
            import pwd

            pwd.getpwnam(as_user)
        except KeyError:
            pytest.skip(f"running as root and there is no {as_user!r} user; {INSTALL_HINT}")
    root = Path(tempfile.mkdtemp(prefix="ketaqa-pg-"))
    if as_user:
        shutil.chown(root, user=as_user)
    server = PostgresServer(bindir, root, as_user)
    try:
        server.start()  # installed but not starting is a failure, not a skip
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def _pg_database(postgres_server: PostgresServer) -> str:
    return postgres_server.new_database()


@pytest.fixture
def pg_url(postgres_server: PostgresServer, _pg_database: str) -> str:
    """The URL of a database on the session's private server, without any ketaqa tables."""
    return postgres_server.emptied(_pg_database)
