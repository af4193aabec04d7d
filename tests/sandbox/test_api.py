"""POST /code over HTTP: results, refusals with rule ids, limits as 408/413, roles, ownership, audit.

Also looks at a run's process from outside, while it runs: one file descriptor, no environment,
``nobody``, a seccomp filter, no network but loopback.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from nexus.audit.models import AuditEvent
from nexus.config import SandboxSettings
from nexus.sandbox.pool import WORKER_ENV
from nexus.users.models import Role
from tests.fixtures.app import Api, ApiFactory

DATASETS = "/api/v1/datasets"
CODE = "/api/v1/code"
PROBLEM = "application/problem+json"

SALES = (
    "order_id,region,amount,day\n"
    + "".join(
        f"{i},{['North', 'South', 'East'][i % 3]},{10 + i * 1.5},2024-01-{1 + i % 28:02d}\n"
        for i in range(60)
    )
).encode()
TARGETS = b"region,target\nNorth,500\nSouth,400\nEast,300\n"


def _upload(api: Api, headers: dict[str, str], content: bytes = SALES, filename: str = "sales.csv") -> str:
    response = api.client.post(DATASETS, files={"file": (filename, content, "text/csv")}, headers=headers)
    assert response.status_code == 201, response.text
    dataset_id: str = response.json()["id"]
    return dataset_id


def _run(api: Api, headers: dict[str, str], code: str, *dataset_ids: str) -> Any:
    return api.client.post(CODE, json={"dataset_ids": list(dataset_ids), "code": code}, headers=headers)


@pytest.fixture
def small(api_factory: ApiFactory) -> Api:
    """An app whose sandbox has tight limits, so limit cases end quickly."""
    return api_factory(
        sandbox=SandboxSettings(
            sandbox_workers=1,
            sandbox_timeout_s=2,
            sandbox_cpu_s=1,
            sandbox_memory_mb=128,
            sandbox_max_output_kb=64,
            sandbox_max_input_rows=100,
        )
    )


def test_code_runs_on_the_callers_table_and_returns_a_table(small: Api) -> None:
    headers = small.headers_for("ana")
    dataset_id = _upload(small, headers)
    code = "print(len(df))\nresult = df.groupby('region')['amount'].sum().sort_index()"
    response = _run(small, headers, code, dataset_id)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = {
        region: sum(10 + i * 1.5 for i in range(60) if ["North", "South", "East"][i % 3] == region)
        for region in ("East", "North", "South")
    }
    assert body["result"]["kind"] == "table"
    assert [c["name"] for c in body["result"]["columns"]] == ["region", "amount"]
    assert {row[0]: row[1] for row in body["result"]["rows"]} == pytest.approx(expected)
    assert body["stdout"] == "60\n" and body["stdout_truncated"] is False
    assert {"check_ms", "run_ms", "total_ms"} <= body["timings"].keys()


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("df['amount'].max()", 98.5),
        ("n = len(df)\nn * 2  # as in a notebook", 120),
        ("result = 7\ndf['amount'].max()", 7),
        ("print(len(df))", None),
    ],
)
def test_a_last_expression_is_the_result_unless_result_is_set(small: Api, code: str, value: Any) -> None:
    headers = small.headers_for("ana")
    dataset_id = _upload(small, headers)
    response = _run(small, headers, code, dataset_id)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["value"] == value


def test_several_datasets_are_named_tables(small: Api) -> None:
    """Tables are named as SQL names them: a CSV's table is "data", prefixed by its dataset on a clash."""
    headers = small.headers_for("ana")
    sales = _upload(small, headers)
    targets = _upload(small, headers, TARGETS, "targets.csv")
    code = (
        "m = tables['sales_data'].merge(tables['targets_data'], on='region')\n"
        "result = {'rows': len(m), 'names': sorted(tables)}"
    )
    response = _run(small, headers, code, sales, targets)
    assert response.status_code == 200, response.text
    assert response.json()["result"] == {
        "kind": "dict",
        "value": {"rows": 60, "names": ["sales_data", "targets_data"]},
        "columns": None,
        "rows": None,
        "row_count": None,
        "truncated": None,
    }


@pytest.mark.parametrize(
    ("code", "rule", "line"),
    [
        ("x = 1\nimport os", "import", 2),
        ("result = df.__class__", "private-name", 1),
        ("result = df.to_csv('/tmp/x.csv')", "forbidden-attribute", 1),
        ("result = '{0.__class__}'.format(df)", "string-format", 1),
        ("result = eval('1+1')", "forbidden-name", 1),
        ("class A:\n    pass", "class", 1),
        ("result = (", "syntax", 1),
    ],
)
def test_refused_code_is_a_400_problem_with_the_rule_and_line(
    small: Api, code: str, rule: str, line: int
) -> None:
    headers = small.headers_for("ana")
    dataset_id = _upload(small, headers)
    response = _run(small, headers, code, dataset_id)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("/code-rejected")
    assert body["rule"] == rule and body["line"] == line
    assert body["violations"][0]["rule"] == rule


def test_a_rule_broken_while_running_is_a_400_too(small: Api) -> None:
    headers = small.headers_for("ana")
    dataset_id = _upload(small, headers)
    response = _run(small, headers, "name = 'to_' + 'csv'\nresult = df.apply(name)", dataset_id)
    assert response.status_code == 400, response.text
    assert response.json()["rule"] == "runtime" and response.json()["line"] == 2


def test_an_exception_is_a_422_with_its_type_line_and_output(small: Api) -> None:
    headers = small.headers_for("ana")
    dataset_id = _upload(small, headers)
    response = _run(small, headers, "print('looking')\nresult = df['no_such_column']", dataset_id)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"].endswith("/code-error")
    assert body["error_type"] == "KeyError" and body["line"] == 2 and body["stdout"] == "looking\n"


def test_limits_answer_408_and_413(small: Api) -> None:
    headers = small.headers_for("ana")
    dataset_id = _upload(small, headers)
    timeout = _run(small, headers, "n = 0\nwhile True:\n    n = n + 1", dataset_id)
    assert timeout.status_code == 408, timeout.text
    assert timeout.json()["type"].endswith("/sandbox-timeout") and "NEXUS_SANDBOX" in timeout.json()["detail"]
    memory = _run(small, headers, "result = len([0] * 10**9)", dataset_id)
    assert memory.status_code == 413, memory.text
    assert (
        memory.json()["type"].endswith("/sandbox-memory")
        and "NEXUS_SANDBOX_MEMORY_MB" in memory.json()["detail"]
    )
    output = _run(small, headers, "result = ['x' * 1000] * 500", dataset_id)
    assert output.status_code == 413, output.text
    assert output.json()["type"].endswith("/sandbox-output-too-large")
    fine = _run(small, headers, "result = float(df['amount'].sum())", dataset_id)
    assert fine.status_code == 200 and fine.json()["result"]["value"] == pytest.approx(
        sum(10 + i * 1.5 for i in range(60))
    )


def test_a_table_over_the_input_limit_is_refused_before_running(small: Api) -> None:
    headers = small.headers_for("ana")
    big = "n\n" + "".join(f"{i}\n" for i in range(150))
    dataset_id = _upload(small, headers, big.encode(), "big.csv")
    response = _run(small, headers, "result = len(df)", dataset_id)
    assert response.status_code == 413, response.text
    assert response.json()["type"].endswith("/sandbox-input-too-large")
    assert "NEXUS_SANDBOX_MAX_INPUT_ROWS" in response.json()["detail"]


def test_viewers_may_not_run_code_and_nobody_reads_anothers_dataset(small: Api) -> None:
    owner = small.headers_for("owner")
    dataset_id = _upload(small, owner)
    viewer = small.headers_for("vic", Role.VIEWER)
    assert _run(small, viewer, "result = 1", dataset_id).status_code == 403
    other = small.headers_for("eve")
    response = _run(small, other, "result = len(df)", dataset_id)
    assert response.status_code == 404, response.text
    admin = small.headers_for("root", Role.ADMIN)
    assert _run(small, admin, "result = len(df)", dataset_id).status_code == 404
    assert (
        small.client.post(CODE, json={"dataset_ids": [dataset_id], "code": "result = 1"}).status_code == 401
    )


def test_every_run_is_audited_with_the_codes_hash_and_outcome(small: Api) -> None:
    headers = small.headers_for("ana")
    dataset_id = _upload(small, headers)
    good, bad = "result = len(df)", "import os"
    assert _run(small, headers, good, dataset_id).status_code == 200
    assert _run(small, headers, bad, dataset_id).status_code == 400
    with small.runtime.sessions() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.event == "code.run").order_by(AuditEvent.at)
        ).all()
    assert [e.details["sha256"] for e in events] == [
        hashlib.sha256(good.encode()).hexdigest(),
        hashlib.sha256(bad.encode()).hexdigest(),
    ]
    assert [e.details["outcome"] for e in events] == ["ok", "code-rejected"]
    assert all(e.actor_id is not None and e.details["dataset_ids"] == [dataset_id] for e in events)
    assert not any("import os" in str(e.details) for e in events)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(item) for item in text)
    return found


def test_a_running_child_has_one_descriptor_no_environment_no_network_and_a_filter(
    small: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEXUS_CANARY_SECRET", "do-not-leak")
    headers = small.headers_for("ana")
    dataset_id = _upload(small, headers)
    holder: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: holder.update(response=_run(small, headers, "while True:\n    pass", dataset_id))
    )
    runner.start()
    child = None
    deadline = time.monotonic() + 20
    while child is None and time.monotonic() < deadline:
        for worker in small.runtime.sandbox.pool.pids():
            kids = _children(worker)
            if kids:
                child, worker_pid = kids[0], worker
        time.sleep(0.01)
    assert child is not None, "no running child was seen"
    time.sleep(0.3)  # let the child finish locking itself down
    status = Path(f"/proc/{child}/status").read_text()
    fds = os.listdir(f"/proc/{child}/fd")
    environ = Path(f"/proc/{worker_pid}/environ").read_bytes().split(b"\0")
    net = Path(f"/proc/{child}/net/dev").read_text()
    runner.join()
    assert holder["response"].status_code == 408
    assert len(fds) == 1, fds
    assert "Seccomp:\t2" in status
    if os.getuid() == 0:
        assert "Uid:\t65534" in status
    assert {item.split(b"=")[0].decode() for item in environ if item} == set(WORKER_ENV)
    assert not any(b"do-not-leak" in item for item in environ)
    interfaces = {line.split(":")[0].strip() for line in net.splitlines()[2:]}
    assert interfaces <= {"lo"}, interfaces
