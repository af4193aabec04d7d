"""Start a throw-away Nexus server for a run: temp data dir, one analyst user, a free port."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from eval.client import EvalError

USERNAME = "eval"
_READY_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Server:
    """Where a server listens and who may sign in."""

    url: str
    username: str
    password: str


def nexus_command() -> Path:
    """Return the ``nexus`` script beside the running interpreter (the venv's)."""
    return Path(sys.executable).with_name("nexus")


def server_env(data_dir: Path) -> dict[str, str]:
    """Return the environment of a development server whose state lives in ``data_dir``."""
    env = dict(os.environ)
    env.update(
        NEXUS_DATA_DIR=str(data_dir),
        NEXUS_ENV="development",
        # Never the operator's metadata database: SQLite in the temp dir.
        NEXUS_DATABASE_URL="",
        NEXUS_RATE_LIMIT_ENABLED="false",
        NEXUS_LOG_LEVEL="WARNING",
        NEXUS_LOG_JSON="false",
        NEXUS_SENTRY_DSN="",
    )
    return env


def free_port() -> int:
    """Return a TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(args: list[str], env: dict[str, str], stdin: str = "") -> None:
    done = subprocess.run(
        args, env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise EvalError(f"{' '.join(args[1:])} failed ({done.returncode}): {done.stderr.strip()[-500:]}")


@contextmanager
def local_server(keep_dir: bool = False) -> Iterator[Server]:
    """Migrate a temp data dir, create an analyst, serve on a free port; stop and clean up after."""
    data_dir = Path(tempfile.mkdtemp(prefix="nexus-eval-"))
    env = server_env(data_dir)
    nexus = str(nexus_command())
    password = secrets.token_urlsafe(24)
    log_path = data_dir / "server.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        _run([nexus, "migrate"], env)
        _run(
            [nexus, "users", "create", "--username", USERNAME, "--role", "analyst", "--password-stdin"],
            env,
            password + "\n",
        )
        port = free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [nexus, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process, log_path)
        yield Server(url, USERNAME, password)
    finally:
        if process is not None:
            _stop(process)
        if not keep_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EvalError(f"nexus serve exited ({process.returncode}):\n{_tail(log_path)}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise EvalError(f"nexus serve not ready after {_READY_TIMEOUT_S:.0f}s:\n{_tail(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _tail(path: Path, chars: int = 2_000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"
