"""Layers of the worker's child one at a time, each tested without the others in front of it."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from nexus.config import SandboxSettings
from nexus.sandbox import worker
from nexus.sandbox.policy import CodeRejection, check, with_result
from nexus.sandbox.service import Sandbox


def _in_child(body: Callable[[], int]) -> int:
    """Run ``body`` in a forked child and return its exit status (the child never returns here)."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = body()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _landlocked() -> int:
    zoneinfo = "/usr/share/zoneinfo/"
    if worker._landlock((zoneinfo,)).startswith("unavailable"):
        return 10
    try:
        os.close(os.open("/etc/hostname", os.O_RDONLY))
        return 1  # a file outside the readable roots was opened
    except PermissionError:
        pass
    try:
        with open(zoneinfo + "UTC", "rb") as handle:
            handle.read(4)
    except OSError:
        return 2  # the time-zone database should stay readable
    try:
        os.close(os.open("/tmp/landlock-probe", os.O_WRONLY | os.O_CREAT, 0o600))
        return 3
    except PermissionError:
        pass
    with socket.socket() as probe:
        try:
            probe.connect(("127.0.0.1", 5432))
            return 4  # a TCP connection went out
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM):
                return 5
    return 0


def test_landlock_limits_the_child_to_reading_the_time_zone_database() -> None:
    if not os.path.isdir("/usr/share/zoneinfo"):
        pytest.skip("no system time-zone database")
    status = _in_child(_landlocked)
    if status == 10:
        pytest.skip("this kernel has no Landlock")
    assert status == 0
    assert not os.path.exists("/tmp/landlock-probe")


def _filtered() -> int:
    if worker._seccomp() != "seccomp":
        return 10
    try:
        socket.socket()
        return 1
    except PermissionError:
        pass
    try:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        return 2
    except PermissionError:
        pass
    try:
        os.close(os.open("/tmp/seccomp-probe", os.O_WRONLY | os.O_CREAT, 0o600))
        return 3
    except PermissionError:
        pass
    with open("/etc/hostname", "rb") as handle:  # reading is left to Landlock and the audit hook
        handle.read(1)
    return 0


def test_seccomp_refuses_sockets_fork_and_writable_opens() -> None:
    status = _in_child(_filtered)
    if status == 10:
        pytest.skip("libseccomp is not installed")
    assert status == 0
    assert not os.path.exists("/tmp/seccomp-probe")


@pytest.mark.parametrize(
    ("code", "rule", "line"),
    [
        ("import os", "import", 1),
        ("from pandas import read_csv", "import", 1),
        ("x = 1\ny = x.__class__", "private-name", 2),
        ("f = lambda _x: 1", "private-name", 1),
        ("s = '{0.__class__}'.format(1)", "string-format", 1),
        ("s = f'{1:{2}}'", "string-format", 1),
        ("df.apply('to_csv')", "forbidden-string", 1),
        ("df.pipe('query')", "pipe-string", 1),
        ("g = (x for x in [1]).gi_frame", "forbidden-attribute", 1),
        ("def f():\n    yield 1", "generator", 2),
        ("@print\ndef f():\n    pass", "decorator", 2),
        ("try:\n    pass\nexcept* ValueError:\n    pass", "try-star", 1),
        ("match 1:\n    case 1:\n        pass", "match", 1),
        ("def f():\n    global df", "global", 2),
        ("x = getattr(df, 'a')", "forbidden-name", 1),
        ("x = (", "syntax", 1),
    ],
)
def test_the_policy_names_the_rule_and_the_line(code: str, rule: str, line: int) -> None:
    with pytest.raises(CodeRejection) as caught:
        check(code)
    assert (caught.value.first.rule, caught.value.first.line) == (rule, line)


def test_ordinary_words_in_strings_and_columns_pass() -> None:
    check("result = df[['to_date', 'read_count', 'load']].rename(columns={'x': 'query_text'})")
    with pytest.raises(CodeRejection):
        check("x" * 30_001, max_chars=30_000)


@pytest.mark.parametrize(
    ("code", "ran"),
    [
        ("df.a.sum()", "result = (df.a.sum())"),
        ("x = 1\nx + 1  # note", "x = 1\nresult = (x + 1)  # note"),
        ("y = (1 +\n  2)\ny * 2\n", "y = (1 +\n  2)\nresult = (y * 2)\n"),
        ("print(1)", "print(1)"),
        ("result = 2\n3", "result = 2\n3"),
        ("x = 1", "x = 1"),
    ],
)
def test_a_last_expression_becomes_the_result(code: str, ran: str) -> None:
    assert with_result(code, check(code)) == ran


def test_tables_over_the_cache_budget_still_run_and_come_back_when_evicted() -> None:
    box = Sandbox(SandboxSettings(sandbox_workers=1, sandbox_cache_mb=16))
    try:
        # three tables of about 10 MiB each: no two fit the 16 MiB budget together
        frames = {f"t{i}": pd.DataFrame({"v": np.full(1_300_000, float(i + 1))}) for i in range(3)}
        both = box.run_frames(
            "result = float(tables['t0']['v'].sum() + tables['t1']['v'].sum())",
            {
                "t0": frames["t0"],
                "t1": frames["t1"],
            },
        )
        assert both.result["value"] == 1_300_000 * 3.0
        assert box.run_frames("result = float(df['v'].sum())", {"t2": frames["t2"]}).result["value"] == 3.9e6
        again = box.run_frames("result = float(df['v'].sum())", {"t0": frames["t0"]})
        assert again.result["value"] == 1.3e6 and again.timings["tables_ms"] > 0
        assert box.pool.replaced == 0
    finally:
        box.close()
