"""Latency of ``POST /api/v1/query`` on a 1,000,000-row table, next to DuckDB running the same SQL.

Run from the repository root::

    .venv/bin/python bench/query.py [--rows 1000000] [--runs 20] [--keep] [--questions total,top_n]

A synthetic orders export (``orders.csv``: dates over 2022-2024, 5,000 customers, five regions,
eight categories, three card types, amounts like ``"1,234.50"``) and a smaller ``customers.csv``
(customer, segment; a twentieth of the customers left out) are generated from a fixed seed. A real
``nexus serve`` is started as a subprocess on a temporary data dir (development settings, rate limits
off), one analyst is created with ``nexus users create``, and both files are uploaded over HTTP.

For each question kind the script asks the question once to learn the SQL the API ran (trying a
more explicit phrasing when the first comes back unresolved), opens the stored dataset files
read-only in this process and runs exactly that SQL there: the baseline. After a few untimed runs of
both, ``--runs`` timed runs alternate API, DuckDB, API, DuckDB... It prints the median and p95 of
each, their ratio and ``api - 1.5 x duckdb`` against the 30 ms allowance of the target, then where
the API's time went for the question furthest from it. The server is stopped on any exit and stops
by itself if this process dies. See bench/README.md for how to read the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
from _children import exit_with_parent  # bench/ is on sys.path when a benchmark runs

GENERATOR_VERSION = 1  # bump when the generated files change: cached copies are then regenerated
SEED = 20261123
CHUNK_ROWS = 250_000
CUSTOMERS = 5_000
HOST = "127.0.0.1"
USERNAME = "bench-analyst"
START_TIMEOUT_S = 120.0
UPLOAD_TIMEOUT_S = 1_800.0
REQUEST_TIMEOUT_S = 120.0
WARMUP_RUNS = 3
TARGET_FACTOR = 1.5
TARGET_ALLOWANCE_MS = 30.0

ORDERS_HEADER = "order_id,order_date,customer,region,category,card_type,amount,quantity"
REGIONS = ("Europe", "Asia", "North America", "Africa", "South America")
REGION_SHARES = (0.3, 0.25, 0.2, 0.15, 0.1)
CATEGORIES = ("Electronics", "Groceries", "Home", "Fashion", "Toys", "Books", "Sports", "Beauty")
CARD_TYPES = ("Visa", "Mastercard", "Amex")
CARD_SHARES = (0.5, 0.35, 0.15)
SEGMENTS = ("Consumer", "Corporate", "Small Business")


@dataclass(frozen=True)
class Question:
    """One kind of question: phrasings to try in order, and the datasets it names."""

    kind: str
    phrasings: tuple[str, ...]
    datasets: tuple[str, ...] = ("orders",)


QUESTIONS = (
    Question("total", ("what is the total amount?", "sum of amount")),
    Question("group_by", ("total amount by region", "sum of amount for each region")),
    Question("top_n", ("top 5 customers by amount", "top 5 customers by sum of amount")),
    Question("time_grain", ("amount per month in 2023", "total amount by month of order date in 2023")),
    Question(
        "filters",
        ("how many orders were paid with Visa cards in 2024?", "count of orders with card type Visa in 2024"),
    ),
    Question("average", ("average amount in Europe", "average amount where region is Europe")),
    Question("distinct", ("how many distinct customers?", "count of distinct customer")),
    Question("compare", ("compare amount in 2023 and 2024", "total amount in 2023 vs 2024")),
    Question("growth", ("month over month growth of amount", "monthly growth of total amount")),
    Question("share", ("what share of amount came from Europe?", "percentage of total amount in Europe")),
    Question(
        "reconcile",
        (
            "which customers in orders are missing from customers and what is their total amount?",
            "total amount of orders customers missing from customers",
        ),
        datasets=("orders", "customers"),
    ),
)
KINDS = tuple(question.kind for question in QUESTIONS)


# --- The files ---------------------------------------------------------------------------------------


def _pick(table: tuple[str, ...] | list[str], index: np.ndarray) -> list[str]:
    picked: list[str] = np.array(table, dtype=object)[index].tolist()
    return picked


def _write_orders(path: Path, rows: int, rng: np.random.Generator) -> None:
    start = dt.date(2022, 1, 1)
    dates = [
        (start + dt.timedelta(days=d)).isoformat() for d in range((dt.date(2024, 12, 31) - start).days + 1)
    ]
    customers = [f"C{number:05d}" for number in range(1, CUSTOMERS + 1)]
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(ORDERS_HEADER + "\n")
        for first in range(0, rows, CHUNK_ROWS):
            count = min(CHUNK_ROWS, rows - first)
            cents = np.maximum(np.round(rng.lognormal(5.0, 1.1, count) * 100).astype(np.int64), 1)
            units, rest = np.divmod(cents, 100)
            columns = [
                list(map(str, range(first + 1, first + count + 1))),
                _pick(dates, rng.integers(0, len(dates), count)),
                _pick(customers, rng.integers(0, CUSTOMERS, count)),
                _pick(REGIONS, rng.choice(len(REGIONS), count, p=REGION_SHARES)),
                _pick(CATEGORIES, rng.integers(0, len(CATEGORIES), count)),
                _pick(CARD_TYPES, rng.choice(len(CARD_TYPES), count, p=CARD_SHARES)),
                [
                    f'"{u:,}.{r:02d}"' if u >= 1000 else f"{u}.{r:02d}"
                    for u, r in zip(units.tolist(), rest.tolist(), strict=True)
                ],
                list(map(str, rng.integers(1, 10, count).tolist())),
            ]
            handle.write("\n".join(map(",".join, zip(*columns, strict=True))) + "\n")


def _write_customers(path: Path, rng: np.random.Generator) -> None:
    kept = np.sort(rng.choice(CUSTOMERS, CUSTOMERS - CUSTOMERS // 20, replace=False)) + 1
    segments = _pick(SEGMENTS, rng.integers(0, len(SEGMENTS), len(kept)))
    lines = [f"C{number:05d},{segment}" for number, segment in zip(kept.tolist(), segments, strict=True)]
    path.write_text("customer,segment\n" + "\n".join(lines) + "\n", encoding="utf-8")


def prepare_files(rows: int, keep: bool, work: Path) -> dict[str, Path]:
    """Generate both CSVs (into ``work``, or into the cache with ``--keep``, reusing cached copies)."""
    folder = Path(tempfile.gettempdir()) / "nexus-bench-query-cache" if keep else work
    folder.mkdir(exist_ok=True)
    files = {
        "orders": folder / f"orders-{rows}-v{GENERATOR_VERSION}" / "orders.csv",
        "customers": folder / f"orders-{rows}-v{GENERATOR_VERSION}" / "customers.csv",
    }
    done = files["orders"].parent / "complete"
    if keep and done.exists():
        print(f"reusing {files['orders'].parent} (kept by an earlier --keep run)")
        return files
    files["orders"].parent.mkdir(exist_ok=True)
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    _write_orders(files["orders"], rows, rng)
    _write_customers(files["customers"], rng)
    done.touch()
    print(f"generated {files['orders'].parent} in {time.perf_counter() - started:.1f} s")
    return files


# --- The server: the real `nexus` command, in a temporary data dir ------------------------------------


def serve(port: int, parent_pid: int) -> int:
    """Run ``nexus serve`` in this process, stopping when the benchmark that started it is gone."""
    from nexus.cli import main

    exit_with_parent(parent_pid)
    return main(["serve", "--host", HOST, "--port", str(port)])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("NEXUS_")}
    env.update(
        NEXUS_ENV="development",
        NEXUS_DATA_DIR=str(data_dir),
        NEXUS_RATE_LIMIT_ENABLED="false",  # 300 requests a minute per user would stop the runs
        NEXUS_ACCESS_TOKEN_TTL_S="86400",  # one token for the whole run, uploads included
    )
    return env


def _nexus(args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None) -> None:
    command = [sys.executable, "-m", "nexus", *args]
    done = subprocess.run(command, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"`nexus {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
        )


@contextlib.contextmanager
def nexus_server(work: Path, password: str) -> Iterator[tuple[str, Path]]:
    """Migrate, create the analyst, serve; yield (base URL, data dir); stop the server however left."""
    data_dir = work / "data"
    env = _server_env(data_dir)
    # cwd is the scratch dir so that no .env file of the checkout is read.
    _nexus(["migrate"], env, work)
    _nexus(
        ["users", "create", "--username", USERNAME, "--role", "analyst", "--password-stdin"],
        env,
        work,
        password,
    )
    port = _free_port()
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", "--port", str(port)]
    command += ["--parent-pid", str(os.getpid())]
    with (work / "server.log").open("wb") as log:
        process = subprocess.Popen(
            command, env=env, cwd=work, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    base_url = f"http://{HOST}:{port}"
    try:
        _wait_ready(process, base_url, work / "server.log")
        yield base_url, data_dir
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the server exited with status {process.returncode}:\n{tail}")
            with contextlib.suppress(httpx.TransportError):
                if client.get("/health/ready").status_code == 200:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"the server was not ready within {START_TIMEOUT_S:.0f} s")


@dataclass
class Dataset:
    """An uploaded dataset: its id, name, tables and the DuckDB file of its version."""

    id: str
    name: str
    tables: list[dict[str, Any]]
    path: Path


def upload(client: httpx.Client, source: Path, data_dir: Path) -> Dataset:
    """Upload a CSV as a new dataset; return it with the file its version is stored in."""
    started = time.perf_counter()
    with source.open("rb") as handle:
        response = client.post(
            "/api/v1/datasets", files={"file": (source.name, handle, "text/csv")}, timeout=UPLOAD_TIMEOUT_S
        )
    if response.status_code != 201:
        raise RuntimeError(f"uploading {source.name}: HTTP {response.status_code} {response.text[:500]}")
    body = response.json()
    files = sorted((data_dir / "datasets" / body["id"]).glob("*.duckdb"))
    if body["status"] != "ready" or len(files) != 1:
        raise RuntimeError(f"{source.name} is {body['status']} with {len(files)} version files")
    dataset = Dataset(body["id"], body["name"], body["tables"], files[0])
    for table in dataset.tables:
        columns = ", ".join(f"{c['name']} {c['type']}" for c in table["columns"])
        print(
            f"uploaded {source.name} in {time.perf_counter() - started:.1f} s: dataset {dataset.name!r}, "
            f"table {table['name']!r}, {table['row_count']:,} rows: {columns}"
        )
    return dataset


# --- DuckDB direct -----------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower() or "dataset"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def direct_connection(datasets: list[Dataset], threads: int, memory_mb: int) -> duckdb.DuckDBPyConnection:
    """Attach the dataset files read-only; name views as the API's SQL names the tables.

    A table keeps its own name when one dataset is asked about, and becomes ``<dataset>_<table>`` when
    two datasets' tables share a name (``nexus.query.catalog``); both spellings are made views.
    """
    con = duckdb.connect(":memory:", config={"threads": threads, "memory_limit": f"{memory_mb}MB"})
    taken: set[str] = set()
    for position, dataset in enumerate(datasets, start=1):
        alias = f"d{position}"
        literal = "'" + str(dataset.path).replace("'", "''") + "'"
        con.execute(f"ATTACH {literal} AS {alias} (READ_ONLY)")
        for table in dataset.tables:
            for name in (table["name"], f"{_slug(dataset.name)}_{table['name']}"):
                if name.casefold() not in taken:
                    taken.add(name.casefold())
                    con.execute(
                        f"CREATE VIEW {_quote(name)} AS SELECT * FROM {alias}.main.{_quote(table['name'])}"
                    )
    return con


# --- Measuring ---------------------------------------------------------------------------------------


@dataclass
class Measured:
    """One question kind: what the API made of it and the timed runs of both sides."""

    question: Question
    asked: str = ""
    fallback: bool = False
    status: str = "unresolved"
    sql: str | None = None
    detail: str = ""
    api_s: list[float] = field(default_factory=list)
    duckdb_s: list[float] = field(default_factory=list)
    timings: list[dict[str, float]] = field(default_factory=list)
    api_rows: int | None = None
    duckdb_rows: int | None = None
    failures: list[str] = field(default_factory=list)

    def median_ms(self, side: str) -> float:
        """Return the median of one side's runs in milliseconds."""
        runs = self.api_s if side == "api" else self.duckdb_s
        return 1000 * statistics.median(runs) if runs else math.nan

    def p95_ms(self, side: str) -> float:
        """Return the 95th percentile (nearest rank) of one side's runs in milliseconds."""
        runs = sorted(self.api_s if side == "api" else self.duckdb_s)
        return 1000 * runs[max(1, math.ceil(0.95 * len(runs))) - 1] if runs else math.nan

    @property
    def over_ms(self) -> float:
        """Return ``api - 1.5 x duckdb`` on the medians, to hold against the 30 ms allowance."""
        return self.median_ms("api") - TARGET_FACTOR * self.median_ms("duckdb")


def _ask(client: httpx.Client, text: str, dataset_ids: list[str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.post("/api/v1/query", json={"question": text, "dataset_ids": dataset_ids})
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:500]}")
    payload: dict[str, Any] = response.json()
    return elapsed, payload


def _run_sql(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[float, int]:
    started = time.perf_counter()
    rows = con.execute(sql).fetchall()
    return time.perf_counter() - started, len(rows)


def resolve(client: httpx.Client, measured: Measured, ids: list[str]) -> None:
    """Ask the phrasings in order until one is answered; keep the SQL the API ran for it."""
    for position, text in enumerate(measured.question.phrasings):
        try:
            _, payload = _ask(client, text, ids)
        except RuntimeError as error:
            measured.asked, measured.status, measured.detail = text, "error", str(error)
            measured.failures.append(f"{measured.question.kind}: {error}")
            return
        measured.asked, measured.fallback = text, position > 0
        measured.status, measured.sql = payload["status"], payload.get("sql")
        if payload["status"] == "answered" and measured.sql:
            return
        measured.detail = f"unresolved words {payload.get('unresolved')}: {payload.get('answer', '')[:300]}"


def measure(
    client: httpx.Client, con: duckdb.DuckDBPyConnection, measured: Measured, ids: list[str], runs: int
) -> None:
    """Warm both sides, then alternate timed runs of the API and of DuckDB on the same SQL."""
    assert measured.sql is not None
    body_ok = True
    for index in range(WARMUP_RUNS + runs):
        api_s, payload = _ask(client, measured.asked, ids)
        duckdb_s, duckdb_rows = _run_sql(con, measured.sql)
        if payload["status"] != "answered" or payload.get("sql") != measured.sql:
            body_ok = False
        if index < WARMUP_RUNS:
            continue
        measured.api_s.append(api_s)
        measured.duckdb_s.append(duckdb_s)
        measured.timings.append(payload.get("timings") or {})
        measured.api_rows = (payload.get("result") or {}).get("row_count")
        measured.duckdb_rows = duckdb_rows
    kind = measured.question.kind
    if not body_ok:
        measured.failures.append(f"{kind}: the API answered differently across runs")
    if measured.api_rows != measured.duckdb_rows:
        measured.failures.append(
            f"{kind}: the API counted {measured.api_rows} rows, DuckDB {measured.duckdb_rows}"
        )


# --- Report ------------------------------------------------------------------------------------------


def _machine_line(rows: int, runs: int) -> str:
    return (
        f"Nexus query benchmark, {dt.date.today().isoformat()}: Python {platform.python_version()} on "
        f"{platform.system()}, {os.cpu_count()} CPU cores; duckdb {duckdb.__version__}, httpx "
        f"{httpx.__version__}; {rows:,} orders; {WARMUP_RUNS} untimed + {runs} timed runs per side, "
        "interleaved."
    )


def print_table(results: list[Measured]) -> None:
    """The figures per question kind, then how many meet the target."""
    header = (
        f"{'kind':<11} {'status':<10} {'API p50':>8} {'p95':>7} {'DuckDB p50':>10} {'p95':>7} "
        f"{'ratio':>6} {'API-1.5xDB':>10}  target  rows"
    )
    print(header)
    print("-" * len(header))
    met = 0
    for m in results:
        status = m.status + ("*" if m.fallback else "")
        if not m.api_s:
            print(
                f"{m.question.kind:<11} {status:<10} {'-':>8} {'-':>7} {'-':>10} {'-':>7} {'-':>6} "
                f"{'-':>10}  -"
            )
            continue
        meets = m.over_ms <= TARGET_ALLOWANCE_MS
        met += meets
        print(
            f"{m.question.kind:<11} {status:<10} {m.median_ms('api'):>8.1f} {m.p95_ms('api'):>7.1f} "
            f"{m.median_ms('duckdb'):>10.1f} {m.p95_ms('duckdb'):>7.1f} "
            f"{m.median_ms('api') / m.median_ms('duckdb'):>6.1f} {m.over_ms:>10.1f}  "
            f"{'meets ' if meets else 'MISSES'}  {m.api_rows}"
        )
    timed = sum(1 for m in results if m.api_s)
    print(
        f"\n{met} of {timed} timed question kinds meet the target API <= {TARGET_FACTOR} x DuckDB + "
        f"{TARGET_ALLOWANCE_MS:.0f} ms (on the medians); {len(results) - timed} not timed."
    )
    if any(m.fallback for m in results):
        print("* answered only with the fallback phrasing (the first phrasing came back unresolved).")


def print_questions(results: list[Measured]) -> None:
    """What was asked and the SQL the API ran, on one line each."""
    print("Questions and the SQL the API ran (the DuckDB baseline runs the same text):")
    for m in results:
        print(f"  {m.question.kind}: {m.asked!r}" + (" (fallback phrasing)" if m.fallback else ""))
        if m.fallback:
            print(f"    first phrasing {m.question.phrasings[0]!r} came back unresolved")
        if m.sql:
            print(f"    {' '.join(m.sql.split())}")
        elif m.detail:
            print(f"    {m.detail}")


def print_breakdown(results: list[Measured]) -> None:
    """Where the API's time went for the question furthest from the target."""
    timed = [m for m in results if m.api_s]
    if not timed:
        return
    worst = max(timed, key=lambda m: m.over_ms)
    keys = list(dict.fromkeys(key for timings in worst.timings for key in timings))
    print(f"API timings for the question furthest from the target ({worst.question.kind}), medians in ms:")
    parts = [f"{key} {statistics.median(t.get(key, 0.0) for t in worst.timings):.1f}" for key in keys]
    print("  server: " + ", ".join(parts))
    server_total = statistics.median(t.get("total_ms", math.nan) for t in worst.timings)
    print(
        f"  client wall {worst.median_ms('api'):.1f}; minus the service's total_ms: "
        f"{worst.median_ms('api') - server_total:.1f} (HTTP, auth, middleware, JSON, the thread pool); "
        f"DuckDB direct {worst.median_ms('duckdb'):.1f}"
    )


def _cpu_snapshot() -> tuple[float, float, float]:
    """(wall clock, CPU seconds every process used, CPU seconds of this process and its children)."""
    import resource

    import psutil

    times = psutil.cpu_times()
    busy = sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))
    own = sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )
    return time.monotonic(), busy, own


def print_other_load(
    before: tuple[float, float, float], after: tuple[float, float, float], server_cpu: float
) -> None:
    """How much CPU processes other than this one and its server took during the timed runs."""
    wall = max(after[0] - before[0], 1e-9)
    others = max(0.0, (after[1] - before[1]) - (after[2] - before[2]) - server_cpu) / wall
    print(
        f"other processes (and the hypervisor) used {others:.2f} of the {os.cpu_count()} cores "
        "during the timed runs"
    )
    if others > 0.25:
        print(
            "warning: other work shared the CPU: latencies are inflated and noisy; re-run on a quiet machine."
        )


def _server_cpu_s() -> float:
    """CPU seconds used by this process's children that are still running (the server)."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            total += times.user + times.system
    return total


# --- Command line ------------------------------------------------------------------------------------


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in orders.csv (1000000)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per side and question (20)")
    parser.add_argument("--keep", action="store_true", help="keep the CSVs in the cache and reuse kept ones")
    parser.add_argument(
        "--questions", default=",".join(KINDS), help=f"comma-separated subset of: {', '.join(KINDS)}"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.kinds = [kind.strip() for kind in args.questions.split(",") if kind.strip()]
    unknown = sorted(set(args.kinds) - set(KINDS))
    if unknown or not args.kinds:
        parser.error(f"unknown question kinds {unknown}; choose from {', '.join(KINDS)}")
    if args.rows < 1 or args.runs < 1:
        parser.error("--rows and --runs must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with the internal ``--serve``, its server)."""
    args = _parse(argv)
    if args.serve:
        return serve(args.port, args.parent_pid)

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    work = Path(tempfile.mkdtemp(prefix="nexus-bench-query-"))
    try:
        return _bench(args, work)
    except (RuntimeError, httpx.HTTPError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench(args: argparse.Namespace, work: Path) -> int:
    from nexus.config import QuerySettings

    query = QuerySettings.model_construct()  # the defaults, as the server (no NEXUS_* variables) has them
    print(_machine_line(args.rows, args.runs))
    print(
        f"DuckDB direct: one in-memory connection with the dataset files attached read-only, "
        f"{query.query_threads} threads and {query.query_memory_mb} MB like NEXUS_QUERY_*; timed: execute + "
        "fetchall. API: client wall time of POST /api/v1/query on one keep-alive httpx.Client."
    )
    files = prepare_files(args.rows, args.keep, work)
    password = secrets.token_urlsafe(24)
    questions = [q for q in QUESTIONS if q.kind in args.kinds]
    results = [Measured(q) for q in questions]
    with (
        nexus_server(work, password) as (base_url, data_dir),
        httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client,
    ):
        token = client.post("/api/v1/auth/token", data={"username": USERNAME, "password": password})
        token.raise_for_status()
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        needed = sorted({name for q in questions for name in q.datasets}, key=["orders", "customers"].index)
        datasets = {name: upload(client, files[name], data_dir) for name in needed}
        print()
        load_before, server_before = _cpu_snapshot(), _server_cpu_s()
        for measured in results:
            names = measured.question.datasets
            ids = [datasets[name].id for name in names]
            resolve(client, measured, ids)
            print(f"  {measured.question.kind}: {measured.status}", file=sys.stderr, flush=True)
            if measured.status != "answered":
                continue
            with direct_connection(
                [datasets[n] for n in names], query.query_threads, query.query_memory_mb
            ) as con:
                try:
                    measure(client, con, measured, ids, args.runs)
                except (duckdb.Error, RuntimeError) as error:
                    measured.failures.append(f"{measured.question.kind}: {error}")
        print_table(results)
        print_other_load(load_before, _cpu_snapshot(), _server_cpu_s() - server_before)
    print()
    print_breakdown(results)
    print()
    print_questions(results)
    failures = [failure for m in results for failure in m.failures]
    for failure in failures:
        print(f"CHECK FAILED: {failure}")
    if args.keep:
        print(f"\nkept {files['orders'].parent}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
