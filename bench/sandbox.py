"""Warm overhead of a sandboxed code run, next to the same code run directly in this process.

Run from the repository root::

    .venv/bin/python bench/sandbox.py [--rows 10000] [--runs 30] [--snippets tiny,sum,group_by,merge,describe]
    .venv/bin/python bench/sandbox.py --rows 1000000

A synthetic orders table (order id, region, category, amount, quantity, day; ``--rows`` rows from a
fixed seed) and a five-row regions table (region, manager, target) are built in memory. A
``Sandbox`` with the default limits (no ``NEXUS_*`` variables are read) is started and its pool
warmed: the time that takes is the first figure printed. The first run of the first snippet then
hands the orders table to the worker (hash, pickle, pipe, the worker's cache): that cold run is
reported on its own, with where its time went.

For each snippet the baseline is the same code run directly: ``compile`` + ``exec`` with the real
``pandas`` / ``numpy`` / ``math`` / ``statistics`` / ``datetime`` modules bound to the names the
sandbox gives (``df`` or ``tables[...]``), then ``payload()`` on ``result`` (the JSON-safe
conversion the sandbox also does). The sandboxed side is ``Sandbox.run_frames``: the policy check,
hashing the tables into cache keys, one forked child of the warm worker (RestrictedPython compile,
seccomp, audit hook, the code, ``payload``, JSON) and the answer read back. After a few untimed
runs of both, ``--runs`` timed runs alternate direct, sandbox, direct, sandbox... The script prints
the median and p95 of each side, their ratio and the overhead (sandboxed minus direct, on the
medians) against the target of at most 30 ms warm, then the medians of the sandbox's own timings per
snippet. It checks that both sides gave the same result and exits 1 when one did not.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SEED = 20261124
WARMUP_RUNS = 3
TARGET_OVERHEAD_MS = 30.0
REGIONS = ("Europe", "Asia", "North America", "Africa", "South America")
CATEGORIES = ("Electronics", "Groceries", "Home", "Fashion", "Toys", "Books", "Sports", "Beauty")


@dataclass(frozen=True)
class Snippet:
    """One piece of analysis code and the tables it is given."""

    kind: str
    code: str
    both_tables: bool = False


SNIPPETS = (
    Snippet("tiny", "result = 1"),
    Snippet("sum", "result = df['amount'].sum()"),
    Snippet(
        "group_by", "result = df.groupby('region')['amount'].agg(['sum', 'mean', 'count']).reset_index()"
    ),
    Snippet(
        "merge",
        "m = tables['orders'].merge(tables['regions'], on='region', how='left')\n"
        "result = m.groupby('manager').agg(amount=('amount', 'sum'), target=('target', 'first'))\n"
        "result = result.reset_index()",
        both_tables=True,
    ),
    Snippet("describe", "result = df.describe()"),
)
KINDS = tuple(snippet.kind for snippet in SNIPPETS)
BREAKDOWN = ("check_ms", "tables_ms", "child_ms", "setup_ms", "run_ms", "total_ms")


# --- The tables --------------------------------------------------------------------------------------


def orders(rows: int) -> pd.DataFrame:
    """Return the synthetic orders table."""
    rng = np.random.default_rng(SEED)
    start = np.datetime64("2022-01-01")
    return pd.DataFrame(
        {
            "order_id": np.arange(1, rows + 1),
            "region": np.array(REGIONS, dtype=object)[rng.integers(0, len(REGIONS), rows)],
            "category": np.array(CATEGORIES, dtype=object)[rng.integers(0, len(CATEGORIES), rows)],
            "amount": np.round(rng.lognormal(5.0, 1.1, rows), 2),
            "quantity": rng.integers(1, 10, rows),
            "day": start + rng.integers(0, 3 * 365, rows).astype("timedelta64[D]"),
        }
    )


def regions() -> pd.DataFrame:
    """Return the five-row regions table the merge joins to."""
    return pd.DataFrame(
        {
            "region": list(REGIONS),
            "manager": ["Ada", "Grace", "Edsger", "Barbara", "Alan"],
            "target": [5e6, 4e6, 3.5e6, 2e6, 1.5e6],
        }
    )


# --- Measuring ---------------------------------------------------------------------------------------


@dataclass
class Measured:
    """Timed runs of one snippet, both sides, and the sandbox's own timings."""

    snippet: Snippet
    direct_s: list[float] = field(default_factory=list)
    sandbox_s: list[float] = field(default_factory=list)
    timings: list[dict[str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def median_ms(self, side: str) -> float:
        """Return the median of one side's runs in milliseconds."""
        runs = self.direct_s if side == "direct" else self.sandbox_s
        return 1000 * statistics.median(runs) if runs else math.nan

    def p95_ms(self, side: str) -> float:
        """Return the 95th percentile (nearest rank) of one side's runs in milliseconds."""
        runs = sorted(self.direct_s if side == "direct" else self.sandbox_s)
        return 1000 * runs[max(1, math.ceil(0.95 * len(runs))) - 1] if runs else math.nan

    @property
    def overhead_ms(self) -> float:
        """Return sandboxed minus direct, on the medians."""
        return self.median_ms("sandbox") - self.median_ms("direct")

    @property
    def run_overhead_ms(self) -> float:
        """Return ``Sandbox.run``'s own ``total_ms`` minus direct, on the medians: no table hashing."""
        total = statistics.median(t.get("total_ms", math.nan) for t in self.timings)
        return total - self.median_ms("direct")


def run_directly(code: str, frames: dict[str, pd.DataFrame], max_rows: int) -> dict[str, Any]:
    """Run the code in this process with the real modules; return ``payload(result)``."""
    from nexus.sandbox.results import payload

    scope: dict[str, Any] = {
        "pd": pd,
        "np": np,
        "math": math,
        "statistics": statistics,
        "datetime": datetime,
        "tables": dict(frames),
        "result": None,
    }
    if len(frames) == 1:
        scope["df"] = next(iter(frames.values()))
    exec(compile(code, "<direct>", "exec"), scope)  # noqa: S102 - the benchmark's own snippets
    return payload(scope["result"], max_rows)


def same(left: Any, right: Any) -> bool:
    """Return whether two JSON-like values are equal, floats within a relative 1e-9."""
    if isinstance(left, float) or isinstance(right, float):
        return (
            isinstance(left, (int, float)) and isinstance(right, (int, float)) and math.isclose(left, right)
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return list(left) == list(right) and all(same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def measure(box: Any, measured: Measured, frames: dict[str, pd.DataFrame], runs: int) -> None:
    """Untimed runs of both sides, then ``runs`` timed runs, alternating."""
    code = measured.snippet.code
    max_rows = box.settings.sandbox_max_result_rows
    for index in range(WARMUP_RUNS + runs):
        started = time.perf_counter()
        direct = run_directly(code, frames, max_rows)
        direct_s = time.perf_counter() - started
        started = time.perf_counter()
        run = box.run_frames(code, frames)
        sandbox_s = time.perf_counter() - started
        if index == 0:
            expected = json.loads(json.dumps(direct, allow_nan=False, default=str))
            if not same(run.result, expected):
                measured.failures.append(f"{measured.snippet.kind}: the sandbox and the direct run differ")
        if index < WARMUP_RUNS:
            continue
        measured.direct_s.append(direct_s)
        measured.sandbox_s.append(sandbox_s)
        measured.timings.append({**run.timings, "wall_ms": sandbox_s * 1000})


# --- Report ------------------------------------------------------------------------------------------


def _machine_line(rows: int, runs: int) -> str:
    return (
        f"Nexus sandbox benchmark, {datetime.date.today().isoformat()}: Python {platform.python_version()} "
        f"on {platform.system()}, {os.cpu_count()} CPU cores; pandas {pd.__version__}, numpy "
        f"{np.__version__}; {rows:,} orders; {WARMUP_RUNS} untimed + {runs} timed runs per side, interleaved."
    )


def print_table(results: list[Measured]) -> None:
    """The figures per snippet, then how many meet the target."""
    header = (
        f"{'snippet':<9} {'direct p50':>10} {'p95':>7} {'sandbox p50':>11} {'p95':>7} {'ratio':>7} "
        f"{'overhead':>8}  target   {'run() overhead':>14}  target"
    )
    print(header)
    print("-" * len(header))
    met = 0
    for m in results:
        meets = m.overhead_ms <= TARGET_OVERHEAD_MS
        met += meets
        print(
            f"{m.snippet.kind:<9} {m.median_ms('direct'):>10.2f} {m.p95_ms('direct'):>7.2f} "
            f"{m.median_ms('sandbox'):>11.2f} {m.p95_ms('sandbox'):>7.2f} "
            f"{m.median_ms('sandbox') / m.median_ms('direct'):>7.1f} {m.overhead_ms:>8.2f}  "
            f"{'met    ' if meets else 'NOT MET'}  {m.run_overhead_ms:>14.2f}  "
            f"{'met' if m.run_overhead_ms <= TARGET_OVERHEAD_MS else 'NOT MET'}"
        )
    print(
        f"\n{met} of {len(results)} snippets meet the target: sandboxed - direct <= "
        f"{TARGET_OVERHEAD_MS:.0f} ms warm (on the medians). All times in ms.\n"
        "run() overhead: Sandbox.run's own total_ms minus direct, i.e. without run_frames hashing the\n"
        "tables into cache keys on every call; the API's path (CodeService) passes catalog keys, no hashing."
    )


def print_breakdown(results: list[Measured]) -> None:
    """Medians of the sandbox's own timings per snippet."""
    print("Where the sandboxed time went, medians in ms:")
    print(
        "  check: AST policy; tables: the worker's cache look-up (cold: receiving them);\n"
        "  child: fork to answer read; setup: the child's limits, RestrictedPython compile, seccomp,\n"
        "  namespace; run: the code itself; total: run() from check to answer;\n"
        "  wall - total: hashing the tables into cache keys (run_frames only)."
    )
    header = f"  {'snippet':<9}" + "".join(f"{key.removesuffix('_ms'):>9}" for key in BREAKDOWN)
    header += f"{'wall':>9}{'wall-total':>11}{'direct':>9}"
    print(header)
    for m in results:
        medians = {key: statistics.median(t.get(key, math.nan) for t in m.timings) for key in BREAKDOWN}
        wall = statistics.median(t["wall_ms"] for t in m.timings)
        hashing = statistics.median(t["wall_ms"] - t.get("total_ms", math.nan) for t in m.timings)
        print(
            f"  {m.snippet.kind:<9}"
            + "".join(f"{medians[key]:>9.2f}" for key in BREAKDOWN)
            + f"{wall:>9.2f}{hashing:>11.2f}{m.median_ms('direct'):>9.2f}"
        )


# --- Command line ------------------------------------------------------------------------------------


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows in the orders table (10000)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per side and snippet (30)")
    parser.add_argument("--workers", type=int, default=1, help="sandbox workers to start (1)")
    parser.add_argument(
        "--snippets", default=",".join(KINDS), help=f"comma-separated subset of: {', '.join(KINDS)}"
    )
    args = parser.parse_args(argv)
    args.kinds = [kind.strip() for kind in args.snippets.split(",") if kind.strip()]
    unknown = sorted(set(args.kinds) - set(KINDS))
    if unknown or not args.kinds:
        parser.error(f"unknown snippets {unknown}; choose from {', '.join(KINDS)}")
    if args.rows < 1 or args.runs < 1 or args.workers < 1:
        parser.error("--rows, --runs and --workers must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    args = _parse(argv)

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        return _bench(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _bench(args: argparse.Namespace) -> int:
    from nexus.config import SandboxSettings
    from nexus.errors import NexusError
    from nexus.sandbox.service import Sandbox

    settings = SandboxSettings.model_construct().model_copy(update={"sandbox_workers": args.workers})
    print(_machine_line(args.rows, args.runs))
    started = time.perf_counter()
    tables = {"orders": orders(args.rows), "regions": regions()}
    print(
        f"built the tables in {time.perf_counter() - started:.2f} s "
        f"({tables['orders'].memory_usage(deep=True).sum() / 2**20:.1f} MiB of orders)"
    )
    started = time.perf_counter()
    box = Sandbox(settings)
    try:
        box.pool.warm()
        print(
            f"pool start: {time.perf_counter() - started:.2f} s for {args.workers} warm worker(s) "
            "(start, import pandas, warm-up analyses)"
        )
        snippets = [s for s in SNIPPETS if s.kind in args.kinds]
        first = snippets[0]
        frames = {"orders": tables["orders"], **({"regions": tables["regions"]} if first.both_tables else {})}
        started = time.perf_counter()
        cold = box.run_frames(first.code, frames)
        cold_ms = (time.perf_counter() - started) * 1000
        parts = ", ".join(f"{key.removesuffix('_ms')} {value:.1f}" for key, value in cold.timings.items())
        print(
            f"first (cold) run, {first.kind}, the table handed to the worker: {cold_ms:.1f} ms wall; "
            f"sandbox timings (ms): {parts}"
        )
        print()
        results = [Measured(snippet) for snippet in snippets]
        for measured in results:
            frames = {"orders": tables["orders"]}
            if measured.snippet.both_tables:
                frames["regions"] = tables["regions"]
            try:
                measure(box, measured, frames, args.runs)
            except NexusError as error:
                measured.failures.append(f"{measured.snippet.kind}: {error}")
        timed = [m for m in results if m.sandbox_s]
        print_table(timed)
        print()
        print_breakdown(timed)
    finally:
        box.close()
    failures = [failure for m in results for failure in m.failures]
    for failure in failures:
        print(f"CHECK FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
