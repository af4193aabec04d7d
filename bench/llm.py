"""Decoding speed of the embedded model through Nexus, next to llama-cpp-python called directly.

Run from the repository root::

    .venv/bin/python bench/llm.py [--model qwen2.5-coder-1.5b] [--runs 5] [--max-tokens 64] [--threads 2]
    .venv/bin/python bench/llm.py --model smollm2-135m --skip-routing

The model's GGUF file is assembled from its packages into a temporary data dir (what Nexus does on
first use). Two copies are loaded, both before anything is timed: the platform's, through
``nexus.llm.models.Models`` with ``LLMSettings`` built here (no ``NEXUS_*`` variables, no ``.env``),
and a ``llama_cpp.Llama`` built here from the same file with the same threads and context, as
``EmbeddedProvider`` builds its own. Both map the same file, whose pages are shared; each has its
own context and llama.cpp buffers (about 0.8 GB more for Qwen; the script prints the PSS).

Each timed run asks both sides, alternating which goes first, for a reply of exactly ``--max-tokens``
tokens at temperature 0 twice: once whole (``chat``: tokens / wall time of the call) and once
streamed (time to the first piece of text, which is mostly prompt processing, then pieces / time
from the first piece to the last: decoding alone). Every call's prompt differs from the one before
it on that side after its first few tokens, so llama.cpp's reuse of the previous prompt's cache
skips almost none of the prompt processing.

Then, unless ``--skip-routing``, the model-backed steps of the question graph are timed through the
platform: ``route_by_model`` for eight questions the routing rules leave undecided and
``model_plan`` for five over a small sales table ingested by the real pipeline, with the tokens each
used (from the ``nexus_llm_tokens_total`` counter). See bench/README.md for how to read the figures.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import logging
import math
import os
import platform
import random
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llama_cpp
import psutil
import structlog
from prometheus_client import REGISTRY

from nexus.config import LLMSettings
from nexus.llm.base import Message, Role
from nexus.llm.embedded import MODELS, model_path
from nexus.llm.models import Models

WARMUP_RUNS = 1
TARGET_RATIO = 0.9
QUIET_CORES = 0.25  # a run in which other processes used more is "loaded"
MIN_QUIET_RUNS = 3
ROLE: Role = "narrator"  # any role: without per-role settings every role uses the embedded model

# One topic per call, in turn: consecutive calls on one side never share a prompt. Each asks for far
# more than --max-tokens, so every reply stops at the limit and both sides decode the same count.
TOPICS = (
    "hash joins",
    "B-tree indexes",
    "columnar storage",
    "window functions",
    "query planning",
    "write-ahead logging",
    "database normalisation",
    "sampling bias in surveys",
    "moving averages",
    "time zones in timestamps",
    "foreign keys",
    "confidence intervals",
)


def messages_for(call: int) -> list[Message]:
    """Return the chat for the ``call``-th call of a side: a different topic than the call before."""
    topic = TOPICS[call % len(TOPICS)]
    return [
        Message("system", f"You teach {topic} to new data analysts. Write long, detailed answers."),
        Message("user", f"Explain {topic} step by step, with a worked example and the common mistakes."),
    ]


# --- One call on each side ---------------------------------------------------------------------------


@dataclass
class Call:
    """One timed reply."""

    wall_s: float
    text: str
    completion_tokens: int
    prompt_tokens: int = 0
    first_s: float = math.nan  # streamed: until the first piece of text
    last_s: float = math.nan  # streamed: until the last piece of text
    inner_s: float = math.nan  # Nexus's chat: the provider's own time around create_chat_completion

    @property
    def tokens_per_s(self) -> float:
        """Return completion tokens per second of the whole call (prompt processing included)."""
        return self.completion_tokens / self.wall_s

    @property
    def decode_per_s(self) -> float:
        """Return pieces per second from the first piece to the last (streamed calls)."""
        return (self.completion_tokens - 1) / (self.last_s - self.first_s)


def _timed_stream(pieces: Iterator[str]) -> Call:
    started = time.perf_counter()
    text, count, first, last = [], 0, math.nan, math.nan
    for piece in pieces:
        last = time.perf_counter() - started
        if not count:
            first = last
        text.append(piece)
        count += 1
    return Call(time.perf_counter() - started, "".join(text), count, first_s=first, last_s=last)


def nexus_chat(models: Models, messages: list[Message], max_tokens: int) -> Call:
    started = time.perf_counter()
    result = models.chat(ROLE, messages, max_tokens=max_tokens)
    wall = time.perf_counter() - started
    return Call(wall, result.text, result.completion_tokens, result.prompt_tokens, inner_s=result.duration_s)


def nexus_stream(models: Models, messages: list[Message], max_tokens: int) -> Call:
    return _timed_stream(models.stream(ROLE, messages, max_tokens=max_tokens))


def direct_chat(llama: Any, messages: list[Message], max_tokens: int) -> Call:
    started = time.perf_counter()
    reply = llama.create_chat_completion(
        messages=[m.as_dict() for m in messages], temperature=0.0, max_tokens=max_tokens
    )
    wall = time.perf_counter() - started
    usage = reply["usage"]
    text = str(reply["choices"][0]["message"].get("content") or "")
    return Call(wall, text, int(usage["completion_tokens"]), int(usage["prompt_tokens"]))


def direct_stream(llama: Any, messages: list[Message], max_tokens: int) -> Iterator[str]:
    # The same filter as EmbeddedProvider.stream: chunks with text (not the role or the final chunk).
    for chunk in llama.create_chat_completion(
        messages=[m.as_dict() for m in messages], temperature=0.0, max_tokens=max_tokens, stream=True
    ):
        piece = chunk["choices"][0].get("delta", {}).get("content")
        if piece:
            yield str(piece)


# --- Decoding: both sides, interleaved ----------------------------------------------------------------


@dataclass
class Side:
    """The timed calls of one side."""

    name: str
    chat: Callable[[list[Message], int], Call]
    stream: Callable[[list[Message], int], Call]
    chats: list[Call] = field(default_factory=list)
    streams: list[Call] = field(default_factory=list)


def measure_decoding(sides: list[Side], runs: int, max_tokens: int) -> list[float]:
    """Warm up, then per run: each side's chat, then each side's stream, first side alternating.

    Return the cores other processes used during each timed run.
    """
    loads = []
    for run in range(WARMUP_RUNS + runs):
        order = sides if run % 2 == 0 else sides[::-1]
        before = _cpu_snapshot()
        # Call 2*run (chat) and 2*run+1 (stream) of every side: the same prompts on both sides.
        chats = {side.name: side.chat(messages_for(2 * run), max_tokens) for side in order}
        streams = {side.name: side.stream(messages_for(2 * run + 1), max_tokens) for side in order}
        others = _other_cores(before, _cpu_snapshot())
        timed = run >= WARMUP_RUNS
        if timed:
            loads.append(others)
            for side in sides:
                side.chats.append(chats[side.name])
                side.streams.append(streams[side.name])
        print(
            f"  run {run + 1 - WARMUP_RUNS if timed else 'warm-up'} ({order[0].name} first, others "
            f"{others:.2f} cores): "
            + ", ".join(
                f"{s.name} chat {chats[s.name].tokens_per_s:.1f} tok/s, first piece "
                f"{streams[s.name].first_s:.2f} s, decode {streams[s.name].decode_per_s:.1f} tok/s"
                for s in sides
            ),
            file=sys.stderr,
            flush=True,
        )
    return loads


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


FIGURES: dict[str, tuple[str, Callable[[Side, int], float]]] = {
    "chat": ("chat tokens/s", lambda side, i: side.chats[i].tokens_per_s),
    "decode": ("decoding tokens/s", lambda side, i: side.streams[i].decode_per_s),
    "first": ("time to the first piece", lambda side, i: side.streams[i].first_s),
}


def print_rounds(nexus: Side, direct: Side, loads: list[float]) -> None:
    """Every timed run: other processes' load, both sides' figures and their ratio."""
    header = f"{'run':>3} {'others':>6}  " + "  ".join(
        f"{key + ' nexus':>12} {'direct':>7} {'ratio':>6}" for key in FIGURES
    )
    print(header)
    print("-" * len(header))
    for i, load in enumerate(loads):
        cells = []
        for _, figure in FIGURES.values():
            ours, theirs = figure(nexus, i), figure(direct, i)
            cells.append(f"{ours:>12.2f} {theirs:>7.2f} {ours / theirs:>6.3f}")
        print(f"{i + 1:>3} {load:>6.2f}  " + "  ".join(cells))
    print("(chat, decode: tokens/s; first: seconds to the first piece; others: cores other processes used)")


def print_ratios(nexus: Side, direct: Side, loads: list[float]) -> None:
    """The median of the per-run ratios, over all runs and over the quiet ones."""
    quiet = [i for i, load in enumerate(loads) if load <= QUIET_CORES]
    sets = [("all runs", list(range(len(loads))))] + (
        [("quiet runs", quiet)] if 0 < len(quiet) < len(loads) else []
    )
    judged = quiet if len(quiet) >= MIN_QUIET_RUNS else list(range(len(loads)))
    print(
        f"{'median of per-run ratios nexus / direct':<42}"
        + "".join(f"{f'{name} ({len(runs)})':>18}" for name, runs in sets)
    )
    for key, (label, figure) in FIGURES.items():
        cells = []
        for _, runs in sets:
            cells.append(_median([figure(nexus, i) / figure(direct, i) for i in runs]))
        verdict = ""
        if key != "first":
            ratio = _median([figure(nexus, i) / figure(direct, i) for i in judged])
            verdict = f"  {'meets' if ratio >= TARGET_RATIO else 'MISSES'} >= {TARGET_RATIO}"
        print(f"  {label:<40}" + "".join(f"{cell:>18.3f}" for cell in cells) + verdict)
    if len(quiet) == len(loads):
        basis = f"all {len(loads)} runs were quiet"
    elif judged is quiet:
        basis = f"the target is judged on the {len(quiet)} quiet runs"
    else:
        basis = f"fewer than {MIN_QUIET_RUNS} quiet runs: the target is judged on all runs"
    print(
        f"({basis}; quiet: other processes used at most {QUIET_CORES} cores; "
        "first piece: below 1 is Nexus faster)"
    )


def print_decoding(sides: list[Side], max_tokens: int, loads: list[float]) -> list[str]:
    """Print every run, the medians of both sides and their ratios; return what failed the checks."""
    by_side = {side.name: side for side in sides}
    nexus, direct = by_side["nexus"], by_side["direct"]
    print_rounds(nexus, direct, loads)
    print()
    header = (
        f"{'side':<8} {'chat tok/s':>10} {'chat s':>7} {'first piece s':>13} {'decode tok/s':>12} "
        f"{'prompt tok':>10} {'reply tok':>9}"
    )
    print(header)
    print("-" * len(header))
    for side in sides:
        print(
            f"{side.name:<8} {_median([c.tokens_per_s for c in side.chats]):>10.2f} "
            f"{_median([c.wall_s for c in side.chats]):>7.2f} "
            f"{_median([c.first_s for c in side.streams]):>13.3f} "
            f"{_median([c.decode_per_s for c in side.streams]):>12.2f} "
            f"{_median([float(c.prompt_tokens) for c in side.chats]):>10.0f} "
            f"{_median([float(c.completion_tokens) for c in side.chats + side.streams]):>9.0f}"
        )
    print("(medians over all timed runs)")
    outside = [1000 * (c.wall_s - c.inner_s) for c in nexus.chats]
    print(
        f"Nexus's own time per chat call, outside create_chat_completion: median {_median(outside):.2f} ms, "
        f"most {max(outside):.2f} ms (Models.chat's wall time minus the provider's ChatResult.duration_s)"
    )
    print()
    print_ratios(nexus, direct, loads)
    pairs = list(zip(nexus.chats + nexus.streams, direct.chats + direct.streams, strict=True))
    same = sum(a.text == b.text for a, b in pairs)
    print(f"the same reply text on both sides in {same} of {len(pairs)} pairs of calls (temperature 0)")
    failures = []
    short = [c.completion_tokens for s in sides for c in s.chats + s.streams if c.completion_tokens < 2]
    if short:
        failures.append(f"{len(short)} replies had fewer than 2 tokens: no decoding rate")
    ragged = {c.completion_tokens for s in sides for c in s.chats + s.streams} - {max_tokens}
    if ragged:
        print(f"note: some replies were not {max_tokens} tokens long ({sorted(ragged)}); rates are per token")
    return failures


# --- The model-backed steps of the graph ---------------------------------------------------------------

# Questions the routing rules leave undecided, so the orchestrator asks the router model.
ROUTING_QUESTIONS = (
    "is there anything unusual about the sales in Asia?",
    "is Garden worth keeping?",
    "what explains the drop in Toys?",
    "summarise this data for me",
    "are bigger orders more common in some categories?",
    "how will Books do over the summer?",
    "what do our terms say about refunds for late deliveries?",
    "which region should we invest in next?",
)
# Questions the rule-based parser finds no plan for, so the sql agent asks the planner model.
PLANNING_QUESTIONS = (
    "which payment method brings in the most money?",
    "what is our turnover by payment method?",
    "how many items went out per product line?",
    "which part of the world brings in the most money?",
    "mean basket value by payment method",
    "is business growing?",
    "which part of the world orders the most items?",
    "how many items per product line in 2024?",
)
ROUTES = ["sql", "analyst", "visualiser", "timeseries", "retrieval"]
REGIONS = ("Europe", "Asia", "North America", "Africa")
CATEGORIES = ("Electronics", "Books", "Toys", "Garden")
CARDS = ("Visa", "Mastercard", "Amex")


def sales_catalog(work: Path) -> tuple[Any, dict[tuple[str, str], list[str]]]:
    """Ingest a small sales CSV with the real pipeline; return its catalog and the text values."""
    import duckdb

    from nexus.datasets.ingest.base import IngestLimits
    from nexus.datasets.ingest.pipeline import IngestOptions, ingest_file
    from nexus.query.catalog import Catalog, CatalogTable, _columns

    rng = random.Random(20261123)
    source = work / "sales.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["Order ID", "Order Date", "Customer", "Region", "Category", "Card Type", "Amount", "Qty"]
        )
        for i in range(2_000):
            day = dt.date(2022, 1, 1) + dt.timedelta(days=rng.randrange(1095))
            writer.writerow(
                [1000 + i, day.isoformat(), f"C{rng.randrange(300):03d}", rng.choice(REGIONS)]
                + [
                    rng.choice(CATEGORIES),
                    rng.choice(CARDS),
                    f"{rng.uniform(5, 2000):.2f}",
                    rng.randint(1, 9),
                ]
            )
    target = work / "sales.duckdb"
    stored = ingest_file(source, target, IngestOptions(limits=IngestLimits())).tables[0]
    columns = _columns(stored.columns)
    table = CatalogTable("sales", "d1", stored.name, uuid.uuid4(), "sales", 1, stored.row_count, columns)
    values: dict[tuple[str, str], list[str]] = {}
    with duckdb.connect(str(target), read_only=True) as con:
        for column in columns:
            if column.type == "text" and int(column.profile.get("distinct_count") or 0) <= 2_000:
                rows = con.execute(f'SELECT DISTINCT "{column.name}" FROM "{stored.name}"').fetchall()
                values[("sales", column.name)] = [str(r[0]) for r in rows if r[0] is not None]
    return Catalog((table,), (("d1", target),)), values


@dataclass
class Step:
    """One model-backed step: its latency, what it decided and the tokens it used."""

    question: str
    seconds: float
    outcome: str
    calls: int
    prompt_tokens: int
    completion_tokens: int


def _counter(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _usage(model: str, role: str) -> tuple[float, float, float]:
    calls = sum(
        _counter(
            "nexus_llm_requests_total", {"provider": "embedded", "model": model, "role": role, "outcome": o}
        )
        for o in ("ok", "error", "unavailable")
    )
    return (
        calls,
        _counter("nexus_llm_tokens_total", {"model": model, "direction": "prompt"}),
        _counter("nexus_llm_tokens_total", {"model": model, "direction": "completion"}),
    )


def timed_step(question: str, model: str, role: str, step: Callable[[], str]) -> Step:
    """Run one model-backed step, reading its calls and tokens off the metrics."""
    before = _usage(model, role)
    started = time.perf_counter()
    try:
        outcome = step()
    except Exception as error:  # a failed step is a result to report, not a crash
        outcome = f"{type(error).__name__}: {str(error)[:90]}"
    seconds = time.perf_counter() - started
    calls, prompt, completion = (a - b for a, b in zip(_usage(model, role), before, strict=True))
    return Step(question, seconds, outcome, int(calls), int(prompt), int(completion))


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1]


def print_steps(title: str, steps: list[Step], *, each: bool = True) -> None:
    """Each question's latency and tokens (unless not ``each``), then the p50 and p95."""
    print(title)
    if each:
        print(f"  {'seconds':>7} {'calls':>5} {'tok in':>6} {'tok out':>7}  question -> outcome")
    for s in steps if each else []:
        print(
            f"  {s.seconds:>7.2f} {s.calls:>5} {s.prompt_tokens:>6} {s.completion_tokens:>7}  "
            f"{s.question!r} -> {s.outcome}"
        )
    seconds = [s.seconds for s in steps]
    tokens_in = statistics.median(s.prompt_tokens for s in steps)
    tokens_out = statistics.median(s.completion_tokens for s in steps)
    print(
        f"  p50 {statistics.median(seconds):.2f} s, p95 {_p95(seconds):.2f} s (nearest rank, {len(steps)} "
        f"questions); median tokens in {tokens_in:.0f}, out {tokens_out:.0f}"
    )


def _plan_text(spec: Any) -> str:
    parts = [", ".join(f"{m.agg.value}({m.column or '*'})" for m in spec.measures)]
    parts += [f"by {d.column}" + (f"/{d.grain.value}" if d.grain else "") for d in spec.dimensions]
    parts += [f"{f.column} {f.op.value} {f.value!r}" for f in spec.filters]
    parts += [f"order {o.by}" + (" desc" if o.descending else "") for o in spec.order]
    return "; ".join(parts) + (f"; limit {spec.limit}" if spec.limit else "")


def measure_steps(models: Models, model: str, work: Path) -> None:
    """Time route_by_model and model_plan through the platform's models, alternating the two.

    In a question that needs both, the router's call comes before the planner's, so neither finds
    its own system prompt in llama.cpp's cache of the previous prompt; alternating keeps that so.
    """
    from nexus.graph import orchestrator  # noqa: F401 - registers the sql agent
    from nexus.graph.planner import model_plan
    from nexus.graph.route import route_by_model, route_by_rules
    from nexus.query.parser import Parser

    catalog, values = sales_catalog(work)
    parser = Parser(catalog, values)
    routed, planned = [], []
    for routing, planning in zip(ROUTING_QUESTIONS, PLANNING_QUESTIONS, strict=True):
        ruled = route_by_rules(routing, parser.parse(routing), has_documents=True)
        if ruled is not None:
            print(f"note: the rules route {routing!r} themselves ({ruled[0]}); timed anyway")
        if parser.parse(planning).spec is not None:
            print(f"note: the parser plans {planning!r} itself; timed anyway")

        def route(question: str = routing) -> str:
            chosen, reason = route_by_model(question, models, ROUTES)
            return f"{chosen} ({reason[:60]})"

        def plan(question: str = planning) -> str:
            return _plan_text(model_plan(question, catalog, values, models))

        routed.append(timed_step(routing, model, "router", route))
        planned.append(timed_step(planning, model, "planner", plan))
        print(f"  routed and planned question {len(routed)}", file=sys.stderr, flush=True)
    print_steps("route_by_model (router role, JSON schema, max_tokens 80):", routed)
    print()
    print_steps("model_plan (planner role, JSON schema with the table's columns, max_tokens 300):", planned)
    print()
    print_steps(f"both, {len(routed) + len(planned)} steps:", routed + planned, each=False)


# --- Machine and load --------------------------------------------------------------------------------


def _cpu_snapshot() -> tuple[float, float, float]:
    """(wall clock, CPU seconds every process used, CPU seconds of this process)."""
    times = psutil.cpu_times()
    busy = sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.monotonic(), busy, usage.ru_utime + usage.ru_stime


def _other_cores(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
    wall = max(after[0] - before[0], 1e-9)
    return max(0.0, (after[1] - before[1]) - (after[2] - before[2])) / wall


def print_other_load(before: tuple[float, float, float], after: tuple[float, float, float]) -> None:
    """How much CPU processes other than this one took while it was measuring."""
    wall = max(after[0] - before[0], 1e-9)
    others = _other_cores(before, after)
    print(
        f"this process used {(after[2] - before[2]) / wall:.2f} and other processes (and the hypervisor) "
        f"{others:.2f} of the {os.cpu_count()} cores while measuring"
    )
    if others > QUIET_CORES:
        print("warning: other work shared the CPU: the rates are low and noisy; re-run on a quiet machine.")


def _memory_mib() -> float:
    # PSS counts the model file's pages once however many copies map it (RSS counts them per copy).
    process = psutil.Process()
    try:
        return float(process.memory_full_info().pss) / 2**20
    except (AttributeError, psutil.Error):  # PSS is Linux only
        return float(process.memory_info().rss) / 2**20


def machine_lines(args: argparse.Namespace, path: Path, settings: LLMSettings) -> list[str]:
    info = llama_cpp.llama_print_system_info().decode(errors="replace").strip(" |")
    return [
        f"Nexus embedded-model benchmark, {dt.date.today().isoformat()}: Python "
        f"{platform.python_version()} on {platform.system()}, {os.cpu_count()} CPU cores; "
        f"llama-cpp-python {llama_cpp.__version__} ({info})",
        f"Model {args.model}: {path.name}, {path.stat().st_size / 2**20:,.0f} MiB; "
        f"{settings.llm_threads} threads, n_ctx {settings.llm_context_tokens}; replies of "
        f"{args.max_tokens} tokens at temperature 0; {WARMUP_RUNS} untimed + {args.runs} timed runs "
        "per side, interleaved.",
    ]


# --- Command line ------------------------------------------------------------------------------------


def _parse(argv: list[str] | None) -> argparse.Namespace:
    defaults = LLMSettings.model_construct()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--model", choices=sorted(MODELS), default=defaults.embedded_model)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per side and mode (5)")
    parser.add_argument("--max-tokens", type=int, default=64, help="tokens per reply (64)")
    parser.add_argument(
        "--threads",
        type=int,
        default=defaults.llm_threads,
        help=f"llama.cpp threads ({defaults.llm_threads})",
    )
    parser.add_argument("--skip-routing", action="store_true", help="time decoding only")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.max_tokens < 2 or args.threads < 1:
        parser.error("--runs and --threads must be >= 1, --max-tokens >= 2")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    args = _parse(argv)

    work = Path(tempfile.mkdtemp(prefix="nexus-bench-llm-"))

    def stop(signum: int, _frame: object) -> None:
        # Raising SystemExit here could land in a finaliser (Llama.__del__), which swallows it.
        shutil.rmtree(work, ignore_errors=True)
        print("stopped", file=sys.stderr, flush=True)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        return _bench(args, work)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench(args: argparse.Namespace, work: Path) -> int:
    # Nexus logs the model's assembly at INFO to stdout; the script prints its own line for it.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    # Built here, not from the environment: the defaults with the model and threads asked for.
    settings = LLMSettings.model_construct(
        llm_provider="embedded", embedded_model=args.model, llm_threads=args.threads
    )
    started = time.perf_counter()
    path = model_path(MODELS[args.model], work / "data" / "models")
    assembled_s = time.perf_counter() - started
    print("\n".join(machine_lines(args, path, settings)))
    print(f"model file ready in {assembled_s:.1f} s (assembled from its packages where it has several)")

    started = time.perf_counter()
    models = Models(settings, work / "data")
    models.chat(ROLE, messages_for(len(TOPICS) - 1), max_tokens=1)  # loads the platform's copy
    memory = [_memory_mib()]
    direct = llama_cpp.Llama(
        model_path=str(path),
        n_threads=settings.llm_threads,
        n_threads_batch=settings.llm_threads,
        n_ctx=settings.llm_context_tokens,
        verbose=False,
    )
    memory.append(_memory_mib())
    print(
        f"both copies loaded in {time.perf_counter() - started:.1f} s; this process's memory (PSS) "
        f"{memory[0]:,.0f} MiB with the platform's copy, {memory[1]:,.0f} MiB with both\n"
    )

    sides = [
        Side("nexus", lambda m, n: nexus_chat(models, m, n), lambda m, n: nexus_stream(models, m, n)),
        Side(
            "direct",
            lambda m, n: direct_chat(direct, m, n),
            lambda m, n: _timed_stream(direct_stream(direct, m, n)),
        ),
    ]
    before = _cpu_snapshot()
    loads = measure_decoding(sides, args.runs, args.max_tokens)
    failures = print_decoding(sides, args.max_tokens, loads)
    print_other_load(before, _cpu_snapshot())

    if not args.skip_routing:
        del direct  # the steps run through the platform only
        print()
        before = _cpu_snapshot()
        measure_steps(models, args.model, work)
        print_other_load(before, _cpu_snapshot())
    for failure in failures:
        print(f"CHECK FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
