"""CSV ingestion throughput and peak memory: Nexus's pipeline against DuckDB's and pandas' own readers.

Run from the repository root::

    .venv/bin/python bench/ingest.py [--rows 1000000] [--threads 2] [--repeat 3] [--keep] [--phases]

A synthetic sales export is generated first (about 100 MB for a million rows: dd/mm/yyyy dates,
amounts like ``"RM 1,234.50"``, percentages like ``12.5%``, quoted free text, e-mails), then read by
three methods, each run in its own subprocess so that its peak RSS is its own:

- **nexus**: ``ingest_file`` into a fresh DuckDB file with default ``IngestOptions`` (``--threads``);
- **duckdb**: ``CREATE TABLE t AS SELECT * FROM read_csv(file)`` (auto-detection) into a fresh DuckDB
  file, with the same threads and memory limit;
- **pandas**: ``pandas.read_csv(file)`` (default engine).

The runs are interleaved (nexus, duckdb, pandas, nexus, ...) on a warm page cache. The best time and
the largest peak RSS of each method are printed with the ratios, then what each method made of the
columns. Nexus's output is checked (row count, numeric amount whose sum matches the generator's);
the script exits with status 1 when a check fails. ``--phases`` adds one instrumented Nexus run that
times every step of the pipeline. Temporary files are removed on exit; ``--keep`` keeps the
generated CSV in ``$TMPDIR/nexus-bench-ingest-cache`` and reuses it on the next ``--keep`` run.
See bench/README.md for how to read the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _children import exit_with_parent  # bench/ is on sys.path when a benchmark runs

GENERATOR_VERSION = 1  # bump when the generated file changes: cached copies are then regenerated
SEED = 20261122
CHUNK_ROWS = 250_000
CHILD_TIMEOUT_S = 900
METHODS = ("nexus", "duckdb", "pandas")
TARGET_VS_DUCKDB = 0.8
TARGET_VS_PANDAS = 3.0
MB = 1024 * 1024
MEMORY_LIMIT_ENV = "NEXUS_BENCH_MEMORY_LIMIT_MB"  # Nexus's default, handed to the duckdb child

HEADER = "id,order_date,customer,email,region,category,amount,quantity,discount,note"
REGIONS = ("North", "South", "East", "West", "Central")
CATEGORIES = ("Electronics", "Groceries", "Home & Garden", "Fashion", "Toys", "Books", "Sports", "Beauty")
FIRST_NAMES = (
    "Aisha Ahmad Alice Amir Anand Ben Chen Chloe Daniel Devi Emma Farah Hana Hafiz Ian Irfan James Jia "
    "Kavya Kumar Lee Lina Mei Ming Nadia Nora Omar Priya Rahul Ravi Sara Siti Tan Tom Wei Yusuf Zara Zhi"
).split()
LAST_NAMES = (
    "Abdullah Ali Bakar Chan Chong Das Fernandez Goh Hassan Ibrahim Ismail Khoo Lim Low Mohamed Ng Ong "
    "Pillai Rahman Raj Singh Smith Tan Teo Wong Yap Yusof Zainal"
).split()
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "example.my", "company.com.my")
NOTE_HEADS = ("Left at", "Call", "Gift wrap", "Return", "Deliver to", "Invoice", "Pick up", "Resend")
NOTE_TAILS = ("door", "lobby", "office", "level 3", "guard", "unit 12-4", "branch", "bay B")
DISCOUNTS = ("0%", "2.5%", "5%", "7.5%", "10%", "12.5%", "15%", "20%", "25%")


# --- The file ----------------------------------------------------------------------------------------


def _pick(table: list[str] | tuple[str, ...], index: np.ndarray) -> list[str]:
    """Return ``table[i]`` for every ``i`` in ``index`` (numpy draws, Python strings)."""
    picked: list[str] = np.array(table, dtype=object)[index].tolist()
    return picked


def _customers() -> tuple[list[str], list[str]]:
    names, emails = [], []
    for index in range(50_000):
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
        names.append(f"{first} {last}")
        emails.append(f"{first[0].lower()}.{last.lower()}{index % 1000}@{DOMAINS[index % len(DOMAINS)]}")
    return names, emails


def _dates() -> list[str]:
    start = dt.date(2021, 1, 1)
    return [(start + dt.timedelta(days=day)).strftime("%d/%m/%Y") for day in range(4 * 365 + 1)]


def _amounts(rng: np.random.Generator, count: int) -> tuple[list[str], int]:
    """Return amounts like ``"RM 1,234.50"`` (quoted, 1% negative) and their sum in cents."""
    cents = np.maximum(np.round(rng.lognormal(5.5, 1.2, count) * 100).astype(np.int64), 1)
    negative = rng.random(count) < 0.01
    units, rest = np.divmod(cents, 100)
    amounts = [
        f'"-RM {u:,}.{r:02d}"' if minus else f'"RM {u:,}.{r:02d}"'
        for u, r, minus in zip(units.tolist(), rest.tolist(), negative.tolist(), strict=True)
    ]
    return amounts, int(np.where(negative, -cents, cents).sum())


def _notes(rng: np.random.Generator, count: int) -> list[str]:
    """Free text, mostly unique: 10% with a comma (quoted), 0.5% with quotes inside, 5% empty."""
    heads = _pick(NOTE_HEADS, rng.integers(0, len(NOTE_HEADS), count))
    tails = _pick(NOTE_TAILS, rng.integers(0, len(NOTE_TAILS), count))
    refs = rng.integers(10_000, 100_000, count).tolist()
    kinds = rng.random(count).tolist()
    notes = []
    for head, tail, ref, kind in zip(heads, tails, refs, kinds, strict=True):
        if kind < 0.10:
            notes.append(f'"{head} {tail}, #{ref}"')
        elif kind < 0.15:
            notes.append("")
        elif kind > 0.995:
            notes.append(f'"{head} ""{tail}"" #{ref}"')
        else:
            notes.append(f"{head} {tail} #{ref}")
    return notes


def generate(path: Path, rows: int) -> dict[str, Any]:
    """Write the CSV in chunks and return what it holds (rows, the amounts' sum in cents)."""
    rng = np.random.default_rng(SEED)
    names, emails = _customers()
    dates = _dates()
    total_cents = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(HEADER + "\n")
        for start in range(0, rows, CHUNK_ROWS):
            count = min(CHUNK_ROWS, rows - start)
            customer = rng.integers(0, len(names), count)
            amounts, cents = _amounts(rng, count)
            total_cents += cents
            columns = [
                list(map(str, range(start + 1, start + count + 1))),
                _pick(dates, rng.integers(0, len(dates), count)),
                _pick(names, customer),
                _pick(emails, customer),
                _pick(REGIONS, rng.choice(len(REGIONS), count, p=[0.3, 0.25, 0.2, 0.15, 0.1])),
                _pick(CATEGORIES, rng.integers(0, len(CATEGORIES), count)),
                amounts,
                list(map(str, rng.integers(1, 21, count).tolist())),
                _pick(DISCOUNTS, rng.integers(0, len(DISCOUNTS), count)),
                _notes(rng, count),
            ]
            handle.write("\n".join(map(",".join, zip(*columns, strict=True))))
            handle.write("\n")
    return {"version": GENERATOR_VERSION, "rows": rows, "amount_cents": total_cents}


def prepare_file(rows: int, keep: bool, work: Path) -> tuple[Path, dict[str, Any]]:
    """Generate the CSV (into ``work``, or into the cache with ``--keep``, reusing a cached copy)."""
    if keep:
        folder = Path(tempfile.gettempdir()) / "nexus-bench-ingest-cache"
        folder.mkdir(exist_ok=True)
        path = folder / f"sales-{rows}-v{GENERATOR_VERSION}.csv"
        meta_path = path.with_suffix(".json")
        if path.exists() and meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if meta.get("version") == GENERATOR_VERSION and meta.get("rows") == rows:
                print(f"reusing {path} (kept by an earlier --keep run)")
                return path, meta
    else:
        path = work / f"sales-{rows}.csv"
        meta_path = None
    started = time.perf_counter()
    meta = generate(path, rows)
    print(f"generated {path} in {time.perf_counter() - started:.1f} s")
    if meta_path is not None:
        meta_path.write_text(json.dumps(meta))
    return path, meta


def warm_page_cache(path: Path) -> None:
    """Read the file once so that every method starts from the page cache."""
    with path.open("rb") as handle:
        while handle.read(16 * MB):
            pass


# --- Children: one method per process, as `ingest.py --child METHOD ...`, JSON on stdout --------------


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _cpu_seconds() -> float:
    """User + system CPU time of this process so far, all threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _current_rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def child_nexus(source: Path, work: Path, threads: int) -> dict[str, Any]:
    """Ingest with Nexus's pipeline; return the time, what it decided and what it stored."""
    import duckdb

    from nexus.datasets.ingest.pipeline import IngestOptions, ingest_file

    options = IngestOptions(threads=threads)
    target = work / "nexus.duckdb"
    before = _current_rss_bytes()
    cpu = _cpu_seconds()
    started = time.perf_counter()
    result = ingest_file(source, target, options)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    peak = _peak_rss_bytes()
    table = result.tables[0]
    with duckdb.connect(str(target), read_only=True) as con:
        stored = con.execute(
            "SELECT count(*), sum(amount), count(order_date), min(order_date)::VARCHAR, "
            "max(order_date)::VARCHAR FROM data"
        ).fetchone()
    assert stored is not None
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss": peak,
        "rss_before": before,
        "rows": table.row_count,
        "memory_limit_mb": options.memory_limit_mb,
        "columns": [
            {
                "name": c["name"],
                "type": c["type"],
                "storage": c["storage_type"],
                "role": c["role"],
                "format": c.get("format"),
                "dropped": c["dropped"],
            }
            for c in table.columns
        ],
        "notes": result.notes + table.notes,
        "stored": {
            "rows": stored[0],
            "amount_sum": None if stored[1] is None else float(stored[1]),
            "dates": stored[2],
            "first_date": stored[3],
            "last_date": stored[4],
        },
        "db_bytes": target.stat().st_size,
    }


def child_duckdb(source: Path, work: Path, threads: int) -> dict[str, Any]:
    """``CREATE TABLE AS SELECT * FROM read_csv`` (auto-detect) into a fresh DuckDB file."""
    import duckdb

    memory_limit_mb = int(os.environ[MEMORY_LIMIT_ENV])
    target = work / "duckdb.duckdb"
    literal = "'" + str(source).replace("'", "''") + "'"
    before = _current_rss_bytes()
    cpu = _cpu_seconds()
    started = time.perf_counter()
    con = duckdb.connect(str(target), config={"threads": threads, "memory_limit": f"{memory_limit_mb}MB"})
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv({literal})")
    con.close()
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    peak = _peak_rss_bytes()
    with duckdb.connect(str(target), read_only=True) as con:
        columns = [{"name": str(r[0]), "type": str(r[1])} for r in con.execute("DESCRIBE t").fetchall()]
        count = con.execute("SELECT count(*) FROM t").fetchone()
    assert count is not None
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss": peak,
        "rss_before": before,
        "rows": int(count[0]),
        "memory_limit_mb": memory_limit_mb,
        "columns": columns,
        "db_bytes": target.stat().st_size,
    }


def child_pandas(source: Path, work: Path, threads: int) -> dict[str, Any]:
    """``pandas.read_csv(file)`` with every default."""
    del work, threads
    import pandas as pd

    before = _current_rss_bytes()
    cpu = _cpu_seconds()
    started = time.perf_counter()
    frame = pd.read_csv(source)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    peak = _peak_rss_bytes()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss": peak,
        "rss_before": before,
        "rows": len(frame),
        "columns": [{"name": str(name), "type": str(kind)} for name, kind in frame.dtypes.items()],
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
    }


class _TimedResult:
    """What ``execute`` returned, with fetches timed into the same log entry."""

    def __init__(self, inner: Any, entry: list[Any]) -> None:
        self._inner = inner
        self._entry = entry

    def _timed(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return getattr(self._inner, name)(*args, **kwargs)
            finally:
                self._entry[2] += time.perf_counter() - started

        return call

    def __getattr__(self, name: str) -> Any:
        if name.startswith("fetch"):
            return self._timed(name)
        return getattr(self._inner, name)


class _TimedConnection:
    """A DuckDB connection that logs (phase, SQL, seconds) for every statement it runs."""

    def __init__(self, inner: Any, log: list[list[Any]]) -> None:
        self._inner = inner
        self._log = log

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1).f_code.co_name
        entry = [_phase_of(caller, sql), sql, 0.0]
        self._log.append(entry)
        started = time.perf_counter()
        try:
            inner = self._inner.execute(sql, *args, **kwargs)
        finally:
            entry[2] += time.perf_counter() - started
        return _TimedResult(inner, entry)

    def close(self) -> None:
        started = time.perf_counter()
        try:
            self._inner.close()
        finally:
            self._log.append(["close connection", "", time.perf_counter() - started])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _phase_of(caller: str, sql: str) -> str:
    words = " ".join(sql.split())
    upper = words.upper()
    if caller == "_sniffed_delimiter":
        return "sniff: DuckDB sniff_csv (delimiter)"
    if caller == "_read_utf8":
        if upper.startswith("CREATE"):
            return "read: CSV -> all-VARCHAR staging table"
        return "read: row/ragged counts on staging"
    if caller == "_plan_types":
        return (
            "typing: DESCRIBE staging" if upper.startswith("DESCRIBE") else "typing: reservoir sample query"
        )
    if caller == "_settle_dropped":
        if "FILTER" in upper:
            return "dropped: count cells each conversion drops"
        return "dropped: non-null counts"
    if caller == "_finish_table":
        return (
            "convert: CREATE TABLE AS SELECT (typed)"
            if upper.startswith("CREATE")
            else "convert: DROP staging"
        )
    if caller == "profile_table":
        if upper.startswith("DESCRIBE"):
            return "profile: DESCRIBE"
        if upper.startswith("SELECT COUNT(*) FROM"):
            return "profile: count(*)"
        return "profile: per-column stats (count, distinct, min/max, length, e-mail regex)"
    if caller == "_top_values":
        return "profile: top values (one GROUP BY per column)"
    if upper.startswith("CHECKPOINT"):
        return "checkpoint"
    if upper.startswith("SET "):
        return "setup: " + words.split("=")[0].strip()
    return f"other: {words[:50]}"


def child_phases(source: Path, work: Path, threads: int) -> dict[str, Any]:
    """One Nexus ingestion with every pipeline step timed (DuckDB statements and Python steps)."""
    import duckdb

    from nexus.datasets.ingest import csv as csv_reader
    from nexus.datasets.ingest import pipeline

    log: list[list[Any]] = []

    def timed(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                detail = str(args[0]) if phase.startswith("typing: infer_column") else ""
                log.append([phase, detail, time.perf_counter() - started])

        return call

    class _DuckdbShim:
        def __getattr__(self, name: str) -> Any:
            return getattr(duckdb, name)

        def connect(self, *args: Any, **kwargs: Any) -> _TimedConnection:
            started = time.perf_counter()
            con = duckdb.connect(*args, **kwargs)
            log.append(["open connection", "", time.perf_counter() - started])
            return _TimedConnection(con, log)

    pipeline.duckdb = _DuckdbShim()  # type: ignore[assignment]
    pipeline.detect_format = timed("detect: file format (Python, 64 KB)", pipeline.detect_format)
    csv_reader.detect_encoding = timed("sniff: encoding (Python, 256 KB)", csv_reader.detect_encoding)
    csv_reader.detect_dialect = timed("sniff: preamble/header (Python, 256 KB)", csv_reader.detect_dialect)
    pipeline.infer_column = timed("typing: infer_column on the sample (Python)", pipeline.infer_column)
    target = work / "phases.duckdb"
    cpu = _cpu_seconds()
    started = time.perf_counter()
    result = pipeline.ingest_file(source, target, pipeline.IngestOptions(threads=threads))
    total = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    per_column = {
        "infer_column": [[e[1], e[2]] for e in log if e[0].startswith("typing: infer_column")],
        "top values": [[e[1].split('"')[1], e[2]] for e in log if e[0].startswith("profile: top values")],
    }
    return {
        "seconds": total,
        "cpu_seconds": cpu,
        "rows": result.tables[0].row_count,
        "log": log,
        "per_column": per_column,
    }


CHILDREN: dict[str, Callable[[Path, Path, int], dict[str, Any]]] = {
    "nexus": child_nexus,
    "duckdb": child_duckdb,
    "pandas": child_pandas,
    "phases": child_phases,
}


def run_as_child(method: str, source: Path, work: Path, threads: int, parent_pid: int) -> None:
    """Entry point of a child: run one method and print its result as one JSON line."""
    exit_with_parent(parent_pid)
    work.mkdir(parents=True, exist_ok=True)
    report = CHILDREN[method](source, work, threads)
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


# --- Parent ------------------------------------------------------------------------------------------


class ChildFailed(RuntimeError):
    """A method's subprocess failed or printed no result."""


def run_child(method: str, source: Path, work: Path, threads: int) -> dict[str, Any]:
    """Run one method in a fresh interpreter and return its JSON report."""
    folder = Path(tempfile.mkdtemp(prefix=f"{method}-", dir=work))
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        method,
        "--file",
        str(source),
        "--work",
        str(folder),
        "--threads",
        str(threads),
        "--parent-pid",
        str(os.getpid()),
    ]
    env = {**os.environ, MEMORY_LIMIT_ENV: str(_nexus_memory_limit_mb())}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        stdout, stderr = process.communicate(timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise ChildFailed(f"{method}: no result within {CHILD_TIMEOUT_S} s") from error
    finally:
        if process.poll() is None:  # timed out, or this process is being interrupted or terminated
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)
    lines = stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        raise ChildFailed(f"{method}: exit status {process.returncode}\n{stderr.strip()[-4000:]}")
    report: dict[str, Any] = json.loads(lines[-1])
    return report


@functools.cache
def _nexus_memory_limit_mb() -> int:
    from nexus.datasets.ingest.pipeline import IngestOptions

    return IngestOptions().memory_limit_mb


def _mb(size: float) -> float:
    return size / MB


def summarise(runs: dict[str, list[dict[str, Any]]], rows: int, file_bytes: int) -> dict[str, dict[str, Any]]:
    """Best time, least CPU and largest peak RSS per method."""
    summary = {}
    for method, reports in runs.items():
        best = min(report["seconds"] for report in reports)
        summary[method] = {
            "seconds": best,
            "cpu_seconds": min(report["cpu_seconds"] for report in reports),
            "all_seconds": [report["seconds"] for report in reports],
            "rows_per_s": rows / best,
            "mb_per_s": _mb(file_bytes) / best,
            "peak_rss": max(report["peak_rss"] for report in reports),
            "rss_before": max(report["rss_before"] for report in reports),
        }
    return summary


def print_table(summary: dict[str, dict[str, Any]], file_bytes: int) -> None:
    """The figures, then the ratios against the targets."""
    header = (
        f"{'method':<8} {'seconds':>8} {'CPU s':>6} {'rows/s':>11} {'MB/s':>7} {'peak RSS MB':>12} "
        f"{'RSS/file':>9} {'RSS before MB':>14}   runs (s)"
    )
    print(header)
    print("-" * len(header))
    for method, figures in summary.items():
        runs = " ".join(f"{seconds:.2f}" for seconds in figures["all_seconds"])
        print(
            f"{method:<8} {figures['seconds']:>8.2f} {figures['cpu_seconds']:>6.2f} "
            f"{figures['rows_per_s']:>11,.0f} {figures['mb_per_s']:>7.1f} {_mb(figures['peak_rss']):>12.0f} "
            f"{figures['peak_rss'] / file_bytes:>9.2f} {_mb(figures['rss_before']):>14.0f}   {runs}"
        )
    print()
    nexus = summary.get("nexus")
    if nexus is None:
        return
    for other, target in (("duckdb", TARGET_VS_DUCKDB), ("pandas", TARGET_VS_PANDAS)):
        if other in summary:
            ratio = summary[other]["seconds"] / nexus["seconds"]
            cpu_ratio = summary[other]["cpu_seconds"] / nexus["cpu_seconds"]
            verdict = "meets" if ratio >= target else "MISSES"
            print(
                f"ratio nexus / {other} throughput: {ratio:5.2f}  (target >= {target}: {verdict}); "
                f"by CPU time: {cpu_ratio:5.2f}"
            )
    ratio = nexus["peak_rss"] / file_bytes
    work = (nexus["peak_rss"] - nexus["rss_before"]) / file_bytes
    verdict = "meets" if ratio < 0.5 else "MISSES"
    print(
        f"ratio nexus peak RSS / file size: {ratio:5.2f}  (target well under 1, read as < 0.5: {verdict}); "
        f"without the {_mb(nexus['rss_before']):.0f} MB the process held after its imports: {work:.2f}"
    )


def _describe_nexus(report: dict[str, Any]) -> None:
    print("nexus decided:")
    for column in report["columns"]:
        extra = f" format={json.dumps(column['format'])}" if column["format"] else ""
        dropped = f" dropped={column['dropped']}" if column["dropped"] else ""
        print(
            f"  {column['name']:<12} {column['type']:<8} {column['storage']:<8} "
            f"role={column['role']}{extra}{dropped}"
        )
    stored = report["stored"]
    print(
        f"  stored: {stored['rows']:,} rows, sum(amount) = {stored['amount_sum']:,.2f}, "
        f"{stored['dates']:,} dates from {stored['first_date']} to {stored['last_date']}; "
        f"database file {_mb(report['db_bytes']):.0f} MB"
    )
    for note in report["notes"]:
        print(f"  note: {note}")


def describe_outputs(reports: dict[str, dict[str, Any]]) -> None:
    """What each method made of the columns, so that the comparison can be judged."""
    if "nexus" in reports:
        _describe_nexus(reports["nexus"])
    if "duckdb" in reports:
        report = reports["duckdb"]
        columns = ", ".join(f"{c['name']} {c['type']}" for c in report["columns"])
        print(
            f"duckdb auto-detected ({report['rows']:,} rows, file {_mb(report['db_bytes']):.0f} MB): "
            f"{columns}"
        )
    if "pandas" in reports:
        report = reports["pandas"]
        columns = ", ".join(f"{c['name']} {c['type']}" for c in report["columns"])
        print(
            f"pandas dtypes ({report['rows']:,} rows, frame {_mb(report['frame_bytes']):.0f} MB deep): "
            f"{columns}"
        )
    if "nexus" in reports and "duckdb" in reports:
        duck = {c["name"]: c["type"] for c in reports["duckdb"]["columns"]}
        typed = [
            c["name"]
            for c in reports["nexus"]["columns"]
            if c["type"] != "text" and duck.get(c["name"]) == "VARCHAR"
        ]
        if typed:
            print(
                "note: duckdb left as VARCHAR what nexus converted: "
                + ", ".join(typed)
                + " (nexus does more work per row: its figures are not a like-for-like parse)"
            )


def check(reports: dict[str, dict[str, Any]], meta: dict[str, Any]) -> list[str]:
    """Return what is wrong with the outputs (empty when all is well)."""
    rows = meta["rows"]
    failures = []
    for method, report in reports.items():
        if report["rows"] != rows:
            failures.append(f"{method} read {report['rows']:,} rows, the file has {rows:,}")
    nexus = reports.get("nexus")
    if nexus is not None:
        amount = next((c for c in nexus["columns"] if c["name"] == "amount"), None)
        if amount is None or amount["type"] != "number":
            failures.append(f"nexus typed amount as {amount and amount['type']!r}, not 'number'")
        stored = nexus["stored"]
        expected = meta["amount_cents"] / 100
        if stored["amount_sum"] is None or abs(stored["amount_sum"] - expected) > 0.5:
            failures.append(f"nexus sum(amount) is {stored['amount_sum']}, the file sums to {expected:.2f}")
        if stored["dates"] != rows:
            failures.append(f"nexus stored {stored['dates']:,} order dates of {rows:,}")
        dropped = {c["name"]: c["dropped"] for c in nexus["columns"] if c["dropped"]}
        if dropped:
            failures.append(f"nexus dropped values of a clean file: {dropped}")
    return failures


def print_phases(report: dict[str, Any]) -> None:
    """The instrumented run: seconds per phase, in pipeline order."""
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for phase, _sql, seconds in report["log"]:
        totals[phase] += seconds
        counts[phase] += 1
    total = report["seconds"]
    print(
        f"nexus phases (one instrumented run of ingest_file: {total:.2f} s, "
        f"{report['cpu_seconds']:.2f} s CPU; wall seconds per step, in pipeline order):"
    )
    for phase, seconds in totals.items():
        count = f" x{counts[phase]}" if counts[phase] > 1 else ""
        print(f"  {seconds:7.2f} s {100 * seconds / total:5.1f}%  {phase}{count}")
    accounted = sum(totals.values())
    print(f"  {total - accounted:7.2f} s {100 * (total - accounted) / total:5.1f}%  rest (Python glue)")
    for phase, timings in report["per_column"].items():
        if timings:
            listed = ", ".join(f"{name} {seconds:.2f}" for name, seconds in timings)
            print(f"  {phase} per column (s): {listed}")


def _machine_line() -> str:
    import duckdb
    import pandas as pd

    return (
        f"Nexus ingest benchmark, {dt.date.today().isoformat()}: Python {platform.python_version()} on "
        f"{platform.system()}, {os.cpu_count()} CPU cores; "
        f"duckdb {duckdb.__version__}, pandas {pd.__version__}, numpy {np.__version__}."
    )


def _cpu_snapshot() -> tuple[float, float, float, float]:
    """(wall clock, CPU seconds all processes used, CPU seconds of this process and its children, steal)."""
    import psutil

    times = psutil.cpu_times()
    busy = sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))
    own = sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )
    return time.monotonic(), busy, own, getattr(times, "steal", 0.0)


def _print_other_load(
    before: tuple[float, float, float, float], after: tuple[float, float, float, float]
) -> None:
    """How much CPU other processes (and the hypervisor) took during the runs; a warning when noticeable."""
    wall = max(after[0] - before[0], 1e-9)
    others = max(0.0, (after[1] - before[1]) - (after[2] - before[2])) / wall
    steal = max(0.0, after[3] - before[3]) / wall
    cores = os.cpu_count() or 1
    print(
        f"other processes used {others:.2f} of the {cores} cores on average during the runs "
        f"(CPU stolen by the hypervisor: {steal:.2f} cores)"
    )
    if others + steal > 0.25:
        print(
            "warning: other work shared the CPU during the runs: wall times are inflated and noisy; "
            "the CPU-time ratios hold up better. Re-run on a quiet machine before quoting the figures."
        )


def main(argv: list[str] | None = None) -> int:
    """Parse the flags; run as the benchmark or, with ``--child``, as one measured method."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated CSV")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads for nexus and duckdb")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method (best time, max RSS)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of methods")
    parser.add_argument("--keep", action="store_true", help="keep the CSV in the cache and reuse a kept one")
    parser.add_argument(
        "--phases", action="store_true", help="add one instrumented nexus run: time per phase"
    )
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_as_child(args.child, args.file, args.work, args.threads, args.parent_pid)
        return 0
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or args.rows < 1 or args.repeat < 1 or args.threads < 1:
        parser.error(
            f"unknown methods {unknown}" if unknown else "--rows, --repeat and --threads must be >= 1"
        )

    def on_term(_signum: int, _frame: Any) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, on_term)
    work = Path(tempfile.mkdtemp(prefix="nexus-bench-ingest-"))
    try:
        return _bench(args, methods, work)
    except ChildFailed as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench(args: argparse.Namespace, methods: list[str], work: Path) -> int:
    print(_machine_line())
    source, meta = prepare_file(args.rows, args.keep, work)
    file_bytes = source.stat().st_size
    print(
        f"File: {args.rows:,} rows, {file_bytes:,} bytes ({_mb(file_bytes):.1f} MB); "
        f"{args.repeat} run(s) per method, interleaved, each in a fresh process; "
        f"DuckDB threads: {args.threads}."
    )
    print("Seconds: the best run, timed inside the process around the read alone (imports excluded).")
    print("Peak RSS: the largest of the runs' ru_maxrss, imports included ('RSS before' is after imports).")
    print()
    warm_page_cache(source)
    load_before = _cpu_snapshot()
    runs: dict[str, list[dict[str, Any]]] = {method: [] for method in methods}
    for round_index in range(args.repeat):
        for method in methods:
            report = run_child(method, source, work, args.threads)
            runs[method].append(report)
            print(
                f"  run {round_index + 1}: {method:<7} {report['seconds']:7.2f} s",
                file=sys.stderr,
                flush=True,
            )
    summary = summarise(runs, args.rows, file_bytes)
    print_table(summary, file_bytes)
    _print_other_load(load_before, _cpu_snapshot())
    print()
    last = {method: reports[-1] for method, reports in runs.items()}
    describe_outputs(last)
    failures = check(last, meta)
    if args.phases:
        print()
        print_phases(run_child("phases", source, work, args.threads))
    if failures:
        print()
        for failure in failures:
            print(f"CHECK FAILED: {failure}")
        return 1
    if args.keep:
        print(f"\nkept {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
