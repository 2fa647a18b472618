"""Servers a test owns: a PostgreSQL cluster, a Redis and a NATS server of its own, on free ports.

The machine's shared servers must never be stopped by a test; these are started for one test, in
a temporary folder, and the test may stop and start them again (to see what the code does while a
backend is down). The fixtures that hand them out are in tests/conftest.py (``private_postgres``,
``private_redis``, ``private_nats``); they skip when a binary is missing, or fail under CI=true.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

#: How long a server may take to start answering.
START_TIMEOUT = 20.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_listening(port: int, process: subprocess.Popen[bytes] | None, what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not _listening(port):
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not listen on {port} within {START_TIMEOUT:g} s")
        time.sleep(0.05)


def postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl: ``EVENTHIVE_TEST_PG_BIN``, Debian's newest, or the PATH's; None if absent."""
    if given := os.environ.get("EVENTHIVE_TEST_PG_BIN"):
        return Path(given) if (Path(given) / "initdb").exists() else None
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster in a folder of its own, on a free port, with trust authentication.

    As root, PostgreSQL's programs run as the ``postgres`` user (they refuse to run as root).
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        # Not under pytest's tmp_path: its parents are root's alone, and postgres must reach the folder.
        self.folder = Path(tempfile.mkdtemp(prefix="eventhive-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.start()

    def url(self, password: str | None = None) -> str:
        """The cluster's ``postgres`` database (trust ignores a password, which lets tests check it is never shown)."""
        credentials = "postgres" if password is None else f"postgres:{password}"
        return f"postgresql+psycopg://{credentials}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server and return once it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "30", "start")

    def stop(self) -> None:
        """Stop the server at once (``immediate``: what a crash or a pulled plug looks like to clients)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def close(self) -> None:
        """Stop the server if it runs and delete its folder."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self._as_postgres, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as_postgres, str(self.bin_dir / program), *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed ({done.returncode}):\n{done.stderr}\n{log}")


class _Process:
    """A server run as a child process on a free port; stopped and started again on the same port."""

    what = "server"

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix=f"eventhive-{self.what}-"))
        self.log = self.folder / f"{self.what}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        """Start the server and return once it listens."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        _wait_listening(self.port, self.process, self.what, self.log)

    def stop(self) -> None:
        """Stop the server (SIGKILL: the clients see the connection drop, as in a crash) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def close(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis(_Process):
    """A Redis server that keeps nothing on disk, with a password so tests can check it is never shown."""

    what = "redis"
    password = "redis-s3cret-password"

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            self.password,
            "--dir",
            str(self.folder),
        ]

    @property
    def url(self) -> str:
        """``redis://:<password>@127.0.0.1:<port>/0``."""
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"


class PrivateNats(_Process):
    """A NATS server with JetStream, storing in its own folder (kept across a restart)."""

    what = "nats"

    def command(self) -> list[str]:
        return [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.folder / "jetstream")]

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:<port>``."""
        return f"nats://127.0.0.1:{self.port}"


__all__ = ["PrivateNats", "PrivatePostgres", "PrivateRedis", "free_port", "postgres_bin"]
