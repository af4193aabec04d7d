"""The API side of the sandbox: a pool of warm workers, each serving one run at a time.

Workers are started lazily, with an empty environment (thread counts aside) and no inherited file
descriptors but their two pipes. A worker that stops answering, dies, or breaks the protocol is killed
and replaced; the runs themselves happen in throw-away children of the workers (see ``worker.py``).
"""

from __future__ import annotations

import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import structlog

from nexus.sandbox import protocol

log = structlog.get_logger(__name__)

WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_MAX_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
    "LANG": "C.UTF-8",
}
"""Everything a worker's environment holds: no secrets, no paths, no proxies."""

START_TIMEOUT_S = 60.0
GRACE_S = 5.0
"""How long past a run's wall-clock limit the API waits for a worker before replacing it."""


class WorkerLost(Exception):
    """A worker died or stopped answering; it has been replaced."""


class PoolBusy(Exception):
    """No worker became free in time."""


@dataclass
class Limits:
    """What one run may use."""

    wall_s: float
    cpu_s: float
    memory_mb: int
    max_rows: int
    max_output_bytes: int
    max_stdout_chars: int


@dataclass
class Outcome:
    """What a worker reported: a status, the child's reply (when it answered) and timings."""

    status: str
    reply: dict[str, Any] | None
    signal: int | None
    timings: dict[str, float] = field(default_factory=dict)


TableLoader = Callable[[list[str]], dict[str, pd.DataFrame]]


class WorkerProcess:
    """One worker process and its pipes."""

    def __init__(self, cache_mb: int) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own module, by absolute interpreter path
            [sys.executable, "-m", "nexus.sandbox.worker", str(cache_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(WORKER_ENV),
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests = self.process.stdin.fileno()
        self.replies = self.process.stdout.fileno()
        self.runs = 0
        ready = self._receive(time.monotonic() + START_TIMEOUT_S)
        if ready.get("op") != "ready":
            self.kill()
            raise WorkerLost(f"the sandbox worker did not start: {ready}")
        self.pid = int(ready["pid"])
        self.network = str(ready.get("network"))
        self.seccomp = bool(ready.get("seccomp"))
        log.info("sandbox.worker_started", pid=self.pid, network=self.network, seccomp=self.seccomp)
        if not self.seccomp:
            log.warning(
                "sandbox.no_seccomp",
                detail="libseccomp is missing; sockets are refused by the audit hook only",
            )

    @property
    def alive(self) -> bool:
        """Return whether the process is still running."""
        return self.process.poll() is None

    def _read(self, deadline: float, limit: int | None = None) -> tuple[bytes, bytes]:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.replies], [], [], left)[0]:
            raise WorkerLost("the sandbox worker did not answer in time")
        try:
            return protocol.read_frame(self.replies, limit=limit)
        except (protocol.Closed, OSError) as exc:
            raise WorkerLost(f"the sandbox worker went away: {exc}") from exc

    def _receive(self, deadline: float) -> dict[str, Any]:
        kind, payload = self._read(deadline, limit=1 << 20)
        if kind != protocol.JSON:
            raise WorkerLost("the sandbox worker broke the protocol")
        message = json.loads(payload)
        if not isinstance(message, dict):
            raise WorkerLost("the sandbox worker broke the protocol")
        return message

    def _send(self, message: Any) -> None:
        try:
            protocol.send_pickle(self.requests, message)
        except OSError as exc:
            raise WorkerLost(f"the sandbox worker went away: {exc}") from exc

    def ping(self, timeout_s: float = 5.0) -> bool:
        """Return whether the worker answers."""
        try:
            self._send({"op": "ping"})
            return self._receive(time.monotonic() + timeout_s).get("op") == "pong"
        except WorkerLost:
            return False

    def run(self, code: str, tables: Mapping[str, str], load: TableLoader, limits: Limits) -> Outcome:
        """Run code on the tables (name -> cache key); ``load`` supplies tables the worker lacks."""
        self.runs += 1
        job = {"code": code, "tables": dict(tables), **limits.__dict__}
        self._send({"op": "run", "job": job})
        deadline = time.monotonic() + limits.wall_s + GRACE_S + 60.0
        message = self._receive(deadline)
        if message.get("op") == "need":
            self._send({"op": "tables", "items": load(list(message["keys"]))})
            deadline = time.monotonic() + limits.wall_s + GRACE_S
            message = self._receive(deadline)
        if message.get("op") != "done":
            raise WorkerLost("the sandbox worker broke the protocol")
        kind, data = self._read(time.monotonic() + GRACE_S, limit=limits.max_output_bytes + 1024)
        reply = json.loads(data) if data else None
        if reply is not None and not isinstance(reply, dict):
            raise WorkerLost("the sandbox worker broke the protocol")
        return Outcome(
            status=str(message["status"]),
            reply=reply,
            signal=message.get("signal"),
            timings=dict(message.get("timings") or {}),
        )

    def kill(self) -> None:
        """Stop the worker and everything it started."""
        try:
            os.killpg(self.process.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class SandboxPool:
    """A fixed number of warm workers; ``run`` borrows one, replacing it if it was lost."""

    def __init__(self, size: int, cache_mb: int) -> None:
        self.size = size
        self.cache_mb = cache_mb
        self._idle: queue.LifoQueue[WorkerProcess | None] = queue.LifoQueue()
        for _ in range(size):
            self._idle.put(None)  # a slot whose worker starts when first needed
        self._lock = threading.Lock()
        self._started: set[WorkerProcess] = set()
        self._closed = False
        self.replaced = 0

    def _borrow(self, timeout_s: float) -> WorkerProcess:
        try:
            worker = self._idle.get(timeout=timeout_s)
        except queue.Empty:
            raise PoolBusy("every sandbox worker is busy") from None
        if worker is None or not worker.alive:
            if worker is not None:
                self._forget(worker)
            try:
                worker = WorkerProcess(self.cache_mb)
            except BaseException:
                self._idle.put(None)
                raise
            with self._lock:
                self._started.add(worker)
        return worker

    def _forget(self, worker: WorkerProcess) -> None:
        worker.kill()
        with self._lock:
            self._started.discard(worker)

    def run(
        self, code: str, tables: Mapping[str, str], load: TableLoader, limits: Limits, *, wait_s: float
    ) -> Outcome:
        """Run code in a fresh child of a warm worker."""
        worker = self._borrow(wait_s)
        try:
            outcome = worker.run(code, tables, load, limits)
        except BaseException:
            self._forget(worker)
            self.replaced += 1
            self._idle.put(None)
            raise
        if self._closed:
            self._forget(worker)
        else:
            self._idle.put(worker)
        return outcome

    def warm(self) -> None:
        """Start every worker now rather than on first use."""
        workers = [self._borrow(START_TIMEOUT_S) for _ in range(self.size)]
        for worker in workers:
            self._idle.put(worker)

    def healthy(self) -> bool:
        """Return whether every started worker answers (idle ones only are asked)."""
        borrowed: list[WorkerProcess | None] = []
        ok = True
        try:
            for _ in range(self.size):
                borrowed.append(self._idle.get(timeout=30))
            for worker in borrowed:
                if worker is not None and not worker.ping():
                    ok = False
        finally:
            for worker in borrowed:
                self._idle.put(worker)
        return ok

    def pids(self) -> list[int]:
        """Return the process ids of the started workers, busy or idle."""
        with self._lock:
            return sorted(worker.pid for worker in self._started if worker.alive)

    def close(self) -> None:
        """Stop every idle worker; busy ones stop when their run ends."""
        self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            if worker is not None:
                self._forget(worker)
