"""``python -m eval``: run a question set through the API, or check a set file."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from eval.client import EvalError, NexusClient
from eval.harness import Outcome, run_questions, select
from eval.report import print_failures, print_report, summarise, write_json
from eval.server import Server, local_server
from eval.sets import PATTERNS, load_set, read_lines, set_path, validate_lines


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m eval``."""
    parser = argparse.ArgumentParser(prog="python -m eval", description="Nexus evaluation harness.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="ask a set's questions and print accuracy and latency")
    run.add_argument("--set", required=True, help="dev, spider-chinook, geoquery, or a .jsonl path")
    run.add_argument("--url", help="an already running server (default: start one in a temp dir)")
    run.add_argument("--username", default=os.environ.get("NEXUS_EVAL_USERNAME"))
    run.add_argument("--password", default=os.environ.get("NEXUS_EVAL_PASSWORD"))
    run.add_argument("--limit", type=int, help="ask at most N questions")
    run.add_argument("--pattern", help="ask only the questions of this pattern")
    run.add_argument("--verbose", action="store_true", help="print each failure")
    run.add_argument("--json", type=Path, help="also write the report as JSON here")
    run.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    run.set_defaults(handler=_run)
    check = commands.add_parser("check", help="validate a set file and count its questions")
    check.add_argument("--set", required=True)
    check.set_defaults(handler=_check)
    return parser


@contextmanager
def _server(args: argparse.Namespace) -> Iterator[Server]:
    if args.url:
        if not args.username or not args.password:
            raise EvalError("--url needs --username/--password or NEXUS_EVAL_USERNAME/NEXUS_EVAL_PASSWORD")
        yield Server(args.url, args.username, args.password)
        return
    print("eval: starting a server in a temp dir...", file=sys.stderr)
    with local_server() as server:
        yield server


def _progress(number: int, total: int, outcome: Outcome) -> None:
    mark = "✓" if outcome.correct else ("?" if outcome.status == "unresolved" else "✗")
    if outcome.status == "error":
        mark = "!"
    latency = f"{outcome.latency_s * 1000:.0f}ms" if outcome.latency_s is not None else "-"
    print(f"[{number}/{total}] {mark} {outcome.question.id} {latency}", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    question_set = load_set(args.set)
    questions = select(question_set, args.pattern, args.limit)
    if not questions:
        print("eval: no questions selected", file=sys.stderr)
        return 2
    with (
        _server(args) as server,
        NexusClient(server.url, server.username, server.password, args.timeout) as client,
    ):
        client.sign_in()
        outcomes = run_questions(client, questions, question_set.strict_columns, _progress)
    report = summarise(question_set.name, outcomes)
    if args.verbose:
        print_failures(outcomes, sys.stdout)
    print_report(report, sys.stdout)
    if args.json:
        write_json(report, args.json)
    return 0


def _check(args: argparse.Namespace) -> int:
    path = set_path(args.set)
    lines = read_lines(path)
    problems = validate_lines(lines, path.parent)
    for problem in problems:
        print(problem)
    patterns = Counter(line.get("pattern") for line in lines)
    files = {f for line in lines for f in line.get("files", [])}
    print(f"{path}: {len(lines)} questions over {len(files)} files")
    for pattern in PATTERNS:
        print(f"  {pattern:<18}{patterns.get(pattern, 0):>4}")
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m eval``."""
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except EvalError as error:
        print(f"eval: {error}", file=sys.stderr)
        return 1
    return result


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # Unwind, so the server this run started is stopped (`finally` in eval.server) rather than orphaned.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    raise SystemExit(main())
