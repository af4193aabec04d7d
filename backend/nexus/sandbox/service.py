"""Run analysis code: the policy first, then a throw-away child of a warm worker.

``Sandbox.run`` is the one entry point: it checks the code (``CodeRejected`` with the rule id and
line), runs it under the limits in ``SandboxSettings`` and turns what the worker reported into a
``CodeRun`` or the problem it ended in.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import structlog

from nexus.config import SandboxSettings
from nexus.observability.metrics import SANDBOX_DURATION, SANDBOX_RUNS
from nexus.sandbox.errors import (
    CodeFailed,
    CodeRejected,
    SandboxBusy,
    SandboxCrashed,
    SandboxMemoryExceeded,
    SandboxOutputTooLarge,
    SandboxTimeout,
)
from nexus.sandbox.policy import CodeRejection, check, with_result
from nexus.sandbox.pool import Limits, Outcome, PoolBusy, SandboxPool, TableLoader, WorkerLost

log = structlog.get_logger(__name__)


@dataclass
class CodeRun:
    """What a run returned: the result (``kind`` and data), what it printed, and where time went."""

    result: dict[str, Any]
    stdout: str
    stdout_truncated: bool
    timings: dict[str, float] = field(default_factory=dict)
    code: str = ""
    """The code as it ran (a last expression assigned to ``result``)."""


def code_hash(code: str) -> str:
    """Return the SHA-256 of the code, as the audit log records it."""
    return hashlib.sha256(code.encode()).hexdigest()


def frame_key(frame: pd.DataFrame) -> str:
    """Return a cache key for a table given directly (tests, benchmarks): a hash of its content."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update(repr(list(frame.columns)).encode())
    digest.update(repr(list(frame.dtypes.astype(str))).encode())
    return "frame:" + digest.hexdigest()


class Sandbox:
    """The sandbox of one process: a pool of warm workers and the limits of every run."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.pool = SandboxPool(settings.sandbox_workers, settings.sandbox_cache_mb)

    @property
    def limits(self) -> Limits:
        """Return the limits of one run, from the settings."""
        s = self.settings
        return Limits(
            wall_s=s.sandbox_timeout_s,
            cpu_s=s.sandbox_cpu_s,
            memory_mb=s.sandbox_memory_mb,
            max_rows=s.sandbox_max_result_rows,
            max_output_bytes=s.sandbox_max_output_kb * 1024,
            max_stdout_chars=s.sandbox_max_stdout_chars,
        )

    def check(self, code: str) -> str:
        """Return the code as it will run (a last expression becomes ``result``); refuse it otherwise."""
        try:
            return with_result(code, check(code, max_chars=self.settings.sandbox_max_code_chars))
        except CodeRejection as exc:
            first = exc.first
            raise CodeRejected(
                f"The code was refused: {first}.",
                rule=first.rule,
                line=first.line,
                violations=[{"rule": v.rule, "line": v.line, "detail": v.detail} for v in exc.violations],
            ) from None

    def run_frames(self, code: str, frames: Mapping[str, pd.DataFrame]) -> CodeRun:
        """Run code on tables given as DataFrames (tests, benchmarks)."""
        keys = {name: frame_key(frame) for name, frame in frames.items()}
        by_key = {keys[name]: frame for name, frame in frames.items()}
        return self.run(code, keys, lambda wanted: {key: by_key[key] for key in wanted})

    def run(self, code: str, tables: Mapping[str, str], load: TableLoader) -> CodeRun:
        """Check and run code on tables named by cache key; ``load`` reads the ones a worker lacks."""
        started = time.perf_counter()
        outcome_label = "error"
        try:
            code = self.check(code)
            checked = time.perf_counter()
            try:
                outcome = self.pool.run(
                    code, tables, load, self.limits, wait_s=self.settings.sandbox_timeout_s
                )
            except PoolBusy:
                raise SandboxBusy("Every sandbox worker is busy; try again shortly.") from None
            except WorkerLost as exc:
                log.warning("sandbox.worker_lost", error=str(exc))
                raise SandboxCrashed("The sandbox worker stopped answering; it has been replaced.") from None
            run = self._answer(outcome)
            run.code = code
            run.timings = {
                "check_ms": round((checked - started) * 1000, 3),
                **outcome.timings,
                **run.timings,
                "total_ms": round((time.perf_counter() - started) * 1000, 3),
            }
            outcome_label = "ok"
            return run
        except (
            CodeRejected,
            CodeFailed,
            SandboxTimeout,
            SandboxMemoryExceeded,
            SandboxOutputTooLarge,
        ) as exc:
            outcome_label = exc.type_slug
            raise
        finally:
            SANDBOX_RUNS.labels(outcome=outcome_label).inc()
            SANDBOX_DURATION.observe(time.perf_counter() - started)

    def _answer(self, outcome: Outcome) -> CodeRun:
        s = self.settings
        if outcome.status in ("timeout", "cpu"):
            which = "NEXUS_SANDBOX_TIMEOUT_S" if outcome.status == "timeout" else "NEXUS_SANDBOX_CPU_S"
            limit = s.sandbox_timeout_s if outcome.status == "timeout" else s.sandbox_cpu_s
            raise SandboxTimeout(f"The code ran past its limit of {limit:g} s ({which}) and was stopped.")
        if outcome.status == "memory":
            raise self._memory()
        if outcome.status == "too-large":
            raise SandboxOutputTooLarge(
                f"The result is larger than {s.sandbox_max_output_kb:,} KiB (NEXUS_SANDBOX_MAX_OUTPUT_KB); "
                "return fewer rows or aggregate first."
            )
        if outcome.status == "violation":
            raise CodeRejected("The code tried to write a file.", rule="runtime", line=None)
        reply = outcome.reply
        if outcome.status != "ok" or reply is None:
            raise SandboxCrashed(f"The code's process ended without an answer (signal {outcome.signal}).")
        if not reply.get("ok"):
            error = reply.get("error") or {}
            kind = error.get("kind")
            message = str(error.get("message") or "the code failed")
            line = error.get("line")
            where = f" (line {line})" if line else ""
            if kind == "memory":
                raise self._memory()
            if kind == "rejected":
                raise CodeRejected(f"The code was refused: {message}", rule="restricted-python", line=line)
            if kind == "violation":
                raise CodeRejected(
                    f"The code was refused while it ran{where}: {message}", rule="runtime", line=line
                )
            raise CodeFailed(
                f"The code raised {error.get('type', 'an error')}{where}: {message}",
                error_type=error.get("type"),
                line=line,
                stdout=reply.get("stdout", ""),
            )
        return CodeRun(
            result=reply["result"],
            stdout=str(reply.get("stdout", "")),
            stdout_truncated=bool(reply.get("stdout_truncated")),
            timings={key: float(value) for key, value in (reply.get("timings") or {}).items()},
        )

    def _memory(self) -> SandboxMemoryExceeded:
        return SandboxMemoryExceeded(
            f"The code needed more than {self.settings.sandbox_memory_mb:,} MiB "
            "(NEXUS_SANDBOX_MEMORY_MB) and was stopped."
        )

    def close(self) -> None:
        """Stop the workers."""
        self.pool.close()
