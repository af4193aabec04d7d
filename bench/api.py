"""Throughput of an authenticated ``GET /api/v1/users/me``, as a ratio against a bare FastAPI route.

Run from the repository root::

    .venv/bin/python bench/api.py [--duration 5] [--warmup 1] [--concurrency 4]

Two uvicorn servers are started as subprocesses, each one process on 127.0.0.1 and a port the
kernel picks: the real app (``create_app`` on a temporary data dir with SQLite, migrated, one user,
rate limits off, logs at WARNING) and a bare ``FastAPI()`` app with one ``GET /bare`` route. The load
comes from a pool of ``--concurrency`` further processes, each with one keep-alive ``httpx.Client``
sending requests back to back: a warm-up, then a measured period, first against the bare server,
then against Nexus. The script prints requests/s, p50/p95 latency and CPU use for both, and the
ratios nexus / bare. Servers are stopped on any exit, and stop by themselves if this process dies.
See bench/README.md for how to read the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import multiprocessing
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from _children import exit_with_parent  # bench/ is on sys.path when a benchmark runs

if TYPE_CHECKING:
    from multiprocessing.pool import Pool

    from fastapi import FastAPI

HOST = "127.0.0.1"
USERNAME = "bench-user"
ME_PATH = "/api/v1/users/me"
BARE_PATH = "/bare"
PASSWORD_ENV = "NEXUS_BENCH_PASSWORD"
START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 10.0
POOL_START_S = 1.0  # head start for the load processes to connect before the clock starts


# --- Servers: run in subprocesses, as `api.py --serve nexus|bare ...` --------------------------------


def _bare_app() -> FastAPI:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get(BARE_PATH)
    async def bare() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _nexus_app(data_dir: Path, password: str) -> FastAPI:
    from nexus.config import AuthSettings, LimitSettings, ObservabilitySettings, Settings, StorageSettings
    from nexus.main import create_app
    from nexus.migrate import upgrade
    from nexus.observability.logging import configure_logging
    from nexus.runtime import build_runtime
    from nexus.users.models import Role
    from nexus.users.service import UserService

    no_env_file = {"_env_file": None}
    settings = Settings(
        **no_env_file,
        storage=StorageSettings(**no_env_file, data_dir=data_dir),
        auth=AuthSettings(**no_env_file, jwt_secret=secrets.token_urlsafe(48)),
        limits=LimitSettings(**no_env_file, rate_limit_enabled=False),
        observability=ObservabilitySettings(**no_env_file, log_level="WARNING"),
    )
    configure_logging("WARNING", json=True, stream=sys.stderr)
    runtime = build_runtime(settings)
    upgrade(runtime.engine)
    with runtime.sessions() as session:
        UserService(session, runtime.passwords, settings.auth.password_min_length).create(
            USERNAME, password, Role.ANALYST
        )
    return create_app(settings, runtime=runtime)


def serve(kind: str, port_file: Path, data_dir: Path, parent_pid: int) -> None:
    """Serve one app on a kernel-chosen loopback port and write that port to ``port_file``."""
    import uvicorn

    exit_with_parent(parent_pid)
    app = _nexus_app(data_dir, os.environ[PASSWORD_ENV]) if kind == "nexus" else _bare_app()
    # With proto=IPPROTO_TCP, asyncio sets TCP_NODELAY on accepted connections; with the default 0 it
    # does not, and Nagle's algorithm meeting delayed ACKs adds ~40 ms to every response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind((HOST, 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False, lifespan="on")
    partial = port_file.with_suffix(".part")
    partial.write_text(str(sock.getsockname()[1]))
    partial.replace(port_file)
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class Server:
    """A server subprocess and the address it listens on."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str

    def cpu_seconds(self) -> float | None:
        """Return the CPU time (user + system) the server process has used, where /proc tells it."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(kind: str, workdir: Path, password: str) -> Server:
    port_file = workdir / f"{kind}.port"
    data_dir = workdir / f"{kind}-data"
    env = {name: value for name, value in os.environ.items() if not name.startswith("NEXUS_")}
    env[PASSWORD_ENV] = password
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", kind]
    command += ["--port-file", str(port_file), "--data-dir", str(data_dir), "--parent-pid", str(os.getpid())]
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
    server = Server(kind, process, "")
    deadline = time.monotonic() + START_TIMEOUT_S
    while not port_file.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the {kind} server exited with status {process.returncode} before listening")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the {kind} server did not listen within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.05)
    server.base_url = f"http://{HOST}:{int(port_file.read_text())}"
    return server


@contextlib.contextmanager
def _servers(workdir: Path, password: str) -> Iterator[tuple[Server, Server]]:
    """Start both servers; stop them however this block is left."""
    started: list[Server] = []
    try:
        for kind in ("bare", "nexus"):
            started.append(_start(kind, workdir, password))
        yield started[0], started[1]
    finally:
        for server in started:
            if server.process.poll() is None:
                server.process.terminate()
        for server in started:
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


def _wait_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last = "no answer"
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"the {server.name} server exited with status {server.process.returncode}")
            try:
                response = client.get(path)
            except httpx.TransportError as error:
                last = type(error).__name__
            else:
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            time.sleep(0.1)
    raise RuntimeError(f"the {server.name} server was not ready within {START_TIMEOUT_S:.0f} s ({last})")


def _sign_in(server: Server, password: str) -> dict[str, str]:
    with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) as client:
        response = client.post("/api/v1/auth/token", data={"username": USERNAME, "password": password})
        response.raise_for_status()
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        check = client.get(ME_PATH, headers=headers)
        check.raise_for_status()
        if check.json().get("username") != USERNAME:
            raise RuntimeError(f"{ME_PATH} answered someone else: {check.text[:200]}")
    return headers


# --- Load: a pool of processes, one keep-alive httpx.Client each ------------------------------------


@dataclass
class Window:
    """When a load process warms up and measures, in ``time.time()`` seconds shared by all processes."""

    start: float
    measure_from: float
    stop: float


@dataclass
class WorkerResult:
    """What one load process saw in the measured part of its window."""

    latencies_s: list[float]
    errors: int
    cpu_s: float


def _load_worker(
    base_url: str, path: str, headers: dict[str, str], window: Window, max_requests: int
) -> WorkerResult:
    """Send requests back to back on one connection; keep what falls in the measured period."""
    latencies: list[float] = []
    errors = sent = 0
    cpu_from = 0.0
    with httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
        with contextlib.suppress(httpx.HTTPError):
            client.get(path)  # open the connection before the clock starts
        time.sleep(max(0.0, window.start - time.time()))
        measuring = False
        while (now := time.time()) < window.stop and sent < max_requests:
            if not measuring and now >= window.measure_from:
                measuring, cpu_from = True, time.process_time()
            began = time.perf_counter()
            try:
                response = client.get(path)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed = time.perf_counter() - began
            if measuring:
                sent += 1
                if ok:
                    latencies.append(elapsed)
                else:
                    errors += 1
    return WorkerResult(latencies, errors, time.process_time() - cpu_from if measuring else 0.0)


@dataclass
class Result:
    """What the measured period against one server produced."""

    requests: int
    errors: int
    elapsed_s: float
    latencies_s: list[float]
    server_cpu_s: float | None
    client_cpu_s: float

    @property
    def rate(self) -> float:
        """Return successful requests per second."""
        return self.requests / self.elapsed_s

    @property
    def server_cpu_ms_per_request(self) -> float:
        """Return the server's CPU time per successful request, in milliseconds."""
        if self.server_cpu_s is None or not self.requests:
            return math.nan
        return 1000 * self.server_cpu_s / self.requests

    def percentile_ms(self, fraction: float) -> float:
        """Return a latency percentile (nearest rank) in milliseconds."""
        if not self.latencies_s:
            return math.nan
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def _measure(
    pool: Pool,
    server: Server,
    path: str,
    headers: dict[str, str],
    args: argparse.Namespace,
) -> Result:
    start = time.time() + POOL_START_S
    window = Window(start=start, measure_from=start + args.warmup, stop=start + args.warmup + args.duration)
    per_worker = max(1, args.max_requests // args.concurrency)
    pending = pool.starmap_async(
        _load_worker, [(server.base_url, path, headers, window, per_worker)] * args.concurrency
    )
    time.sleep(max(0.0, window.measure_from - time.time()))
    server_cpu_from = server.cpu_seconds()
    time.sleep(max(0.0, window.stop - time.time()))
    server_cpu_to = server.cpu_seconds()
    workers: list[WorkerResult] = pending.get(timeout=POOL_START_S + args.warmup + args.duration + 60)
    server_cpu = None if server_cpu_from is None or server_cpu_to is None else server_cpu_to - server_cpu_from
    return Result(
        requests=sum(len(worker.latencies_s) for worker in workers),
        errors=sum(worker.errors for worker in workers),
        elapsed_s=args.duration,  # requests are counted when they start within the measured period
        latencies_s=[latency for worker in workers for latency in worker.latencies_s],
        server_cpu_s=server_cpu,
        client_cpu_s=sum(worker.cpu_s for worker in workers),
    )


# --- Report ----------------------------------------------------------------------------------------


def _percent(used: float | None, elapsed: float) -> str:
    return "n/a" if used is None else f"{100 * used / elapsed:.0f}%"


def _report(args: argparse.Namespace, bare: Result, nexus: Result) -> None:
    print(
        f"Nexus API benchmark, {dt.date.today().isoformat()}: Python {platform.python_version()} on "
        f"{platform.system()}, {os.cpu_count()} CPU cores; each server is one uvicorn process on {HOST}."
    )
    print(
        f"Load: {args.concurrency} processes, one keep-alive httpx.Client each, requests back to back; "
        f"{args.warmup:g} s warm-up, then {args.duration:g} s measured per target."
    )
    print()
    header = (
        f"{'target':<28} {'requests':>9} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'server CPU':>10} {'CPU ms/req':>10} {'load CPU':>9}"
    )
    print(header)
    print("-" * len(header))
    for label, result in ((f"bare    GET {BARE_PATH}", bare), (f"nexus   GET {ME_PATH}", nexus)):
        print(
            f"{label:<28} {result.requests:>9} {result.errors:>6} {result.rate:>8.0f} "
            f"{result.percentile_ms(0.50):>7.2f} {result.percentile_ms(0.95):>7.2f} "
            f"{_percent(result.server_cpu_s, result.elapsed_s):>10} "
            f"{result.server_cpu_ms_per_request:>10.3f} {_percent(result.client_cpu_s, result.elapsed_s):>9}"
        )
    print()
    throughput = _ratio(nexus.rate, bare.rate)
    cpu = _ratio(nexus.server_cpu_ms_per_request, bare.server_cpu_ms_per_request)
    p50 = _ratio(nexus.percentile_ms(0.50), bare.percentile_ms(0.50))
    p95 = _ratio(nexus.percentile_ms(0.95), bare.percentile_ms(0.95))
    print(f"ratio nexus / bare, throughput:             {throughput:.3f}")
    print(f"ratio nexus / bare, server CPU per request: {cpu:.2f}")
    print(f"ratio nexus / bare, latency:                p50 x{p50:.2f}, p95 x{p95:.2f}")
    for name, result in (("bare", bare), ("nexus", nexus)):
        if result.server_cpu_s is not None and result.server_cpu_s < 0.9 * result.elapsed_s:
            print(
                f"note: the {name} server used under 90% of a core: its req/s was held back by the load "
                "generator, the machine or waits inside the server; CPU ms/req is its own cost regardless."
            )


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


# --- Command line ----------------------------------------------------------------------------------


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 600 seconds")
    return value


def _count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 10_000_000:
        raise argparse.ArgumentTypeError("must be from 1 to 10,000,000")
    return value


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--duration", type=_seconds, default=5.0, help="measured seconds per target (5)")
    parser.add_argument("--warmup", type=_seconds, default=1.0, help="warm-up seconds per target (1)")
    parser.add_argument(
        "--concurrency", type=_count, default=4, help="load processes, one connection each (4)"
    )
    parser.add_argument(
        "--max-requests", type=_count, default=1_000_000, help="cap on measured requests per target"
    )
    # Internal: how the script starts its servers.
    parser.add_argument("--serve", choices=["nexus", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with the internal ``--serve``, one of its servers)."""
    args = _parse(argv)
    if args.serve:
        serve(args.serve, args.port_file, args.data_dir, args.parent_pid)
        return 0

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    password = secrets.token_urlsafe(24)
    spawn = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="nexus-bench-") as scratch,
        _servers(Path(scratch), password) as (bare, nexus),
        spawn.Pool(args.concurrency) as pool,
    ):
        _wait_ready(bare, BARE_PATH)
        _wait_ready(nexus, "/health/ready")
        headers = _sign_in(nexus, password)
        bare_result = _measure(pool, bare, BARE_PATH, {}, args)
        nexus_result = _measure(pool, nexus, ME_PATH, headers, args)
    _report(args, bare_result, nexus_result)
    failed = [
        name
        for name, result in (("bare", bare_result), ("nexus", nexus_result))
        if result.errors or not result.requests
    ]
    if failed:
        print(f"\nerrors, or no successful requests, for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
