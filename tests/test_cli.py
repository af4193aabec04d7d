"""The `nexus` command, run as a user would: migrate, create users, serve on first start."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nexus.migrate import head_revisions

NEXUS = [sys.executable, "-m", "nexus"]
CHEAP_ARGON2 = {
    "NEXUS_ARGON2_TIME_COST": "1",
    "NEXUS_ARGON2_MEMORY_KIB": "1024",
    "NEXUS_ARGON2_PARALLELISM": "1",
}


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    return {**kept, **CHEAP_ARGON2, "NEXUS_DATA_DIR": str(data_dir), "NEXUS_LOG_LEVEL": "WARNING", **extra}


def _run(
    args: list[str], env: dict[str, str], stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NEXUS, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60, cwd=cwd
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sign_in(base: str, username: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{base}/api/v1/auth/token", data={"username": username, "password": password}, timeout=10
    )


class Server:
    """A `nexus serve` process and what it printed."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*NEXUS, "serve", "--port", str(self.port)],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = ""

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"nexus serve exited: {self.process.stdout.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{self.base}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("nexus serve did not become ready in 60 s")

    def stop(self) -> str:
        self.process.terminate()
        try:
            out, _ = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        self.output += out
        return self.output


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[list[Server]]:
    servers: list[Server] = []
    yield servers
    for server in servers:
        if server.process.poll() is None:
            server.stop()


class TestMigrateAndUsers:
    def test_create_user_from_stdin(self, tmp_path: Path) -> None:
        env = _env(tmp_path)
        migrated = _run(["migrate"], env)
        assert migrated.returncode == 0, migrated.stderr
        assert f"revision {max(head_revisions())}" in migrated.stdout

        created = _run(
            ["users", "create", "--username", "Viv", "--password-stdin", "--role", "viewer"],
            env,
            "a long enough secret\n",
        )
        assert created.returncode == 0, created.stderr
        assert "created viewer 'viv'" in created.stdout
        assert "a long enough secret" not in created.stdout + created.stderr

    @pytest.mark.parametrize(
        ("password", "message"),
        [("short\n", "at least 12 characters"), ("a long enough secret\n", "already exists")],
    )
    def test_refusals(self, tmp_path: Path, password: str, message: str) -> None:
        env = _env(tmp_path)
        _run(["migrate"], env)
        _run(["users", "create", "--username", "viv", "--password-stdin"], env, "a long enough secret\n")
        again = _run(
            ["users", "create", "--username", "viv2" if "short" in password else "viv", "--password-stdin"],
            env,
            password,
        )
        assert again.returncode == 1
        assert message in again.stderr

    def test_unknown_role(self, tmp_path: Path) -> None:
        result = _run(
            ["users", "create", "--username", "x", "--role", "root", "--password-stdin"],
            _env(tmp_path),
            "p\n",
        )
        assert result.returncode == 2
        assert "invalid choice" in result.stderr

    def test_users_create_before_migrate(self, tmp_path: Path) -> None:
        result = _run(
            ["users", "create", "--username", "early", "--password-stdin"],
            _env(tmp_path),
            "a long enough secret\n",
        )
        assert result.returncode == 2
        assert "nexus migrate" in result.stderr


class TestServe:
    def test_first_start_prints_a_password_once(self, tmp_path: Path, serve: list[Server]) -> None:
        env = _env(tmp_path / "data")
        first = Server(env, tmp_path)
        serve.append(first)
        first.wait_ready()
        output = first.stop()
        match = re.search(r"created the admin user 'admin' with the password\n\s+(\S+)", output)
        assert match, output
        password = match.group(1)
        assert f"http://127.0.0.1:{first.port}" in output

        second = Server(env, tmp_path)
        serve.append(second)
        second.wait_ready()
        assert _sign_in(second.base, "admin", password).status_code == 200
        assert password not in second.stop()

    def test_admin_from_environment(self, tmp_path: Path, serve: list[Server]) -> None:
        env = _env(
            tmp_path / "data", NEXUS_ADMIN_USERNAME="boss", NEXUS_ADMIN_PASSWORD="given by the operator"
        )
        server = Server(env, tmp_path)
        serve.append(server)
        server.wait_ready()
        assert _sign_in(server.base, "boss", "given by the operator").status_code == 200
        assert "given by the operator" not in server.stop()

    def test_production_without_secret_refuses_to_start(self, tmp_path: Path) -> None:
        result = _run(["serve", "--port", str(_free_port())], _env(tmp_path, NEXUS_ENV="production"))
        assert result.returncode == 2
        assert "NEXUS_JWT_SECRET is not set" in result.stderr

    def test_production_does_not_migrate_by_itself(self, tmp_path: Path) -> None:
        env = _env(tmp_path, NEXUS_ENV="production", NEXUS_JWT_SECRET="s" * 48)
        result = _run(["serve", "--port", str(_free_port())], env)
        assert result.returncode == 2
        assert "run `nexus migrate` first" in result.stderr
