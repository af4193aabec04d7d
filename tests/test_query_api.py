"""POST /query and POST /sql over HTTP: answers from shown work, ownership, roles, limits, hostile SQL."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from nexus.config import QuerySettings
from nexus.users.models import Role
from tests.fixtures.app import Api, ApiFactory

DATASETS = "/api/v1/datasets"
QUERY = "/api/v1/query"
SQL = "/api/v1/sql"
PROBLEM = "application/problem+json"

REGIONS = ["Europe", "Asia", "Africa"]
ROWS = [
    (i, f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", REGIONS[i % 3], round(10 + i * 1.25, 2))
    for i in range(300)
]
SALES = (
    "order_id,order_date,region,amount\n" + "".join(f"{i},{d},{r},{a}\n" for i, d, r, a in ROWS)
).encode()


def _upload(api: Api, headers: dict[str, str], content: bytes = SALES, filename: str = "sales.csv") -> str:
    response = api.client.post(DATASETS, files={"file": (filename, content, "text/csv")}, headers=headers)
    assert response.status_code == 201, response.text
    dataset_id: str = response.json()["id"]
    return dataset_id


def _ask(api: Api, headers: dict[str, str], question: str, *dataset_ids: str) -> dict[str, Any]:
    response = api.client.post(
        QUERY, json={"question": question, "dataset_ids": list(dataset_ids)}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"-?\d[\d,]*\.?\d*", text)]


def _appears(number: float, cells: list[Any]) -> bool:
    for cell in cells:
        if isinstance(cell, (int, float)) and not isinstance(cell, bool):
            digits = max(0, len(str(number).split(".")[1]) if "." in str(number) else 0)
            if round(float(cell), digits) == number or round(float(cell), 2) == number:
                return True
        if isinstance(cell, str) and str(number).rstrip("0").rstrip(".") in cell.replace(",", ""):
            return True
    return False


@pytest.fixture
def owner(api: Api) -> tuple[dict[str, str], str]:
    headers = api.headers_for("owner")
    return headers, _upload(api, headers)


def test_a_question_is_answered_with_its_plan_sql_and_result(
    api: Api, owner: tuple[dict[str, str], str]
) -> None:
    headers, dataset_id = owner
    body = _ask(api, headers, "total amount by region", dataset_id)
    assert body["status"] == "answered" and body["agent"] == "sql" and body["pattern"] == "group_by"
    expected = {r: sum(a for _, _, region, a in ROWS if region == r) for r in REGIONS}
    got = {row[0]: row[1] for row in body["result"]["rows"]}
    assert got == pytest.approx(expected)
    assert "GROUP BY" in body["sql"] and body["plan"]["dimensions"] == [{"column": "region"}]
    assert body["result"]["row_count"] == 3 and body["result"]["truncated"] is False


@pytest.mark.parametrize(
    "question",
    [
        "how much did we sell in total?",
        "total amount by region",
        "average amount in Europe",
        "top 2 regions by amount",
        "amount per month",
        "compare amount in Q1 2024 and Q2 2024",
        "what share of the amount came from Asia?",
        "how many orders were there in March 2024?",
    ],
)
def test_every_number_in_an_answer_is_in_its_result(
    api: Api, owner: tuple[dict[str, str], str], question: str
) -> None:
    headers, dataset_id = owner
    body = _ask(api, headers, question, dataset_id)
    assert body["status"] == "answered", body["answer"]
    cells = [cell for row in body["result"]["rows"] for cell in row] + [body["result"]["row_count"]]
    sentence = body["answer"].split(" I did not use")[0]
    # Dates and periods in the sentence are words about the plan, not figures.
    figures = re.sub(r"\d{4}-\d{2}-\d{2}|Q[1-4] \d{4}|\b(?:19|20)\d{2}\b", "", sentence)
    for number in _numbers(figures):
        assert _appears(number, cells), (number, body["answer"], body["result"]["rows"][:5])


def test_a_question_it_cannot_place_says_so_instead_of_guessing(
    api: Api, owner: tuple[dict[str, str], str]
) -> None:
    headers, dataset_id = owner
    body = _ask(api, headers, "what is the flux capacitor reading of the warp core?", dataset_id)
    assert body["status"] == "unresolved"
    assert body["sql"] is None and body["result"] is None
    assert "flux" in body["unresolved"] and "region" in body["answer"]


def test_relative_periods_say_which_dates_they_cover(api: Api, owner: tuple[dict[str, str], str]) -> None:
    headers, dataset_id = owner
    body = _ask(api, headers, "total amount in the last 2 months", dataset_id)
    latest = max(d for _, d, _, _ in ROWS)
    assert latest in body["answer"] and body["notes"]
    expected = sum(a for _, d, _, a in ROWS if d >= "2024-11-01")
    assert body["result"]["rows"][0][0] == pytest.approx(expected)


def test_other_users_datasets_are_not_found(api: Api, owner: tuple[dict[str, str], str]) -> None:
    _, dataset_id = owner
    intruder = api.headers_for("intruder")
    admin = api.headers_for("boss", Role.ADMIN)
    for headers in (intruder, admin):
        for path, body in (
            (QUERY, {"question": "total amount", "dataset_ids": [dataset_id]}),
            (SQL, {"sql": "SELECT count(*) FROM data", "dataset_ids": [dataset_id]}),
        ):
            response = api.client.post(path, json=body, headers=headers)
            assert response.status_code == 404, response.text
            assert response.headers["content-type"] == PROBLEM
    missing = api.client.post(
        QUERY, json={"question": "total", "dataset_ids": [str(uuid.uuid4())]}, headers=intruder
    )
    assert missing.status_code == 404


def test_viewers_may_ask_but_not_run_sql(api: Api, owner: tuple[dict[str, str], str]) -> None:
    viewer = api.headers_for("viewer", Role.VIEWER)
    response = api.client.post(SQL, json={"sql": "SELECT 1", "dataset_ids": [owner[1]]}, headers=viewer)
    assert response.status_code == 403
    response = api.client.post(QUERY, json={"question": "total", "dataset_ids": [owner[1]]}, headers=viewer)
    assert response.status_code == 404  # may ask, but only about their own datasets


def test_requests_need_a_token(api: Api) -> None:
    for path in (QUERY, SQL):
        assert api.client.post(path, json={}).status_code == 401


def test_sql_returns_rows_the_true_count_and_timings(api_factory: ApiFactory) -> None:
    api = api_factory(query=QuerySettings(_env_file=None, max_result_rows=7))  # type: ignore[call-arg]
    headers = api.headers_for("analyst")
    dataset_id = _upload(api, headers)
    response = api.client.post(
        SQL,
        json={"sql": "SELECT order_id, amount FROM data ORDER BY order_id", "dataset_ids": [dataset_id]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [c["name"] for c in body["columns"]] == ["order_id", "amount"]
    assert len(body["rows"]) == 7 and body["row_count"] == 300 and body["truncated"] is True
    assert body["rows"][0] == [0, 10.0] and body["timings"]["total_ms"] > 0


def test_a_question_with_a_big_result_is_capped_and_says_so(api_factory: ApiFactory) -> None:
    api = api_factory(query=QuerySettings(_env_file=None, max_result_rows=2))  # type: ignore[call-arg]
    headers = api.headers_for("analyst")
    dataset_id = _upload(api, headers)
    body = _ask(api, headers, "total amount by region", dataset_id)
    assert body["result"]["truncated"] is True and body["result"]["row_count"] == 3
    assert "the first 2 are returned" in body["answer"]


def test_unknown_columns_get_the_closest_real_names(api: Api, owner: tuple[dict[str, str], str]) -> None:
    headers, dataset_id = owner
    response = api.client.post(
        SQL, json={"sql": "SELECT sum(amout) FROM data", "dataset_ids": [dataset_id]}, headers=headers
    )
    assert response.status_code == 422
    problem = response.json()
    assert "amount" in problem["detail"] and problem["rule"] == "unknown-column"


def test_two_datasets_with_one_table_name_are_told_apart(api: Api) -> None:
    headers = api.headers_for("two")
    sales = _upload(api, headers, filename="sales.csv")
    targets = _upload(api, headers, content=b"region,target\nEurope,100\nAsia,200\n", filename="targets.csv")
    response = api.client.post(
        SQL,
        json={
            "sql": "SELECT t.region, t.target, sum(s.amount) AS amount FROM sales_data s "
            "JOIN targets_data t USING (region) GROUP BY ALL ORDER BY 1",
            "dataset_ids": [sales, targets],
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert [row[:2] for row in response.json()["rows"]] == [["Asia", 200], ["Europe", 100]]


def test_a_slow_query_is_stopped_with_504(api_factory: ApiFactory) -> None:
    api = api_factory(query=QuerySettings(_env_file=None, query_timeout_s=0.5))  # type: ignore[call-arg]
    headers = api.headers_for("slow")
    dataset_id = _upload(api, headers)
    response = api.client.post(
        SQL,
        json={
            "sql": "SELECT count(*) FROM data a, data b, data c, data d "
            "WHERE a.amount + b.amount > c.amount * d.amount",
            "dataset_ids": [dataset_id],
        },
        headers=headers,
    )
    assert response.status_code == 504, response.text
    assert response.json()["type"].endswith("query-timeout")


HOSTILE_SQL = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT read_text('/etc/passwd')",
    "ATTACH '/tmp/evil.duckdb' AS evil",
    "COPY (SELECT * FROM data) TO '/tmp/stolen.csv'",
    "SELECT 1; DROP TABLE data",
    "SELECT 1 -- harmless\n; DELETE FROM data",
    "CREATE TABLE x AS SELECT * FROM data",
    "INSTALL httpfs",
    "PRAGMA database_list",
    "SET enable_external_access = true",
    "SELECT * FROM d1.main.data",
    "SELECT * FROM duckdb_tables()",
    "SELECT getenv('HOME')",
]


@pytest.mark.parametrize("sql", HOSTILE_SQL)
def test_hostile_sql_through_the_api_is_refused_and_touches_nothing(
    api: Api, owner: tuple[dict[str, str], str], sql: str, tmp_path: Path
) -> None:
    headers, dataset_id = owner
    before = sorted(p for p in tmp_path.rglob("*"))
    response = api.client.post(SQL, json={"sql": sql, "dataset_ids": [dataset_id]}, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == PROBLEM
    assert not Path("/tmp/stolen.csv").exists() and not Path("/tmp/evil.duckdb").exists()
    assert sorted(p for p in tmp_path.rglob("*")) == before
    check = api.client.post(
        SQL, json={"sql": "SELECT count(*) FROM data", "dataset_ids": [dataset_id]}, headers=headers
    )
    assert check.json()["rows"] == [[300]]


def test_a_question_is_never_turned_into_sql_text(api: Api, owner: tuple[dict[str, str], str]) -> None:
    headers, dataset_id = owner
    body = _ask(api, headers, "total amount in Europe'; DROP TABLE data; --", dataset_id)
    check = api.client.post(
        SQL, json={"sql": "SELECT count(*) FROM data", "dataset_ids": [dataset_id]}, headers=headers
    )
    assert check.json()["rows"] == [[300]]
    assert body["status"] in {"answered", "unresolved"}


def test_deleting_a_dataset_lets_go_of_its_pooled_connections(
    api: Api, owner: tuple[dict[str, str], str]
) -> None:
    from nexus.query import executor

    headers, dataset_id = owner
    api.client.post(
        SQL, json={"sql": "SELECT count(*) FROM data", "dataset_ids": [dataset_id]}, headers=headers
    )

    def held() -> list[str]:
        return [path for key in executor._POOL._idle for _, path in key[0] if dataset_id in path]

    assert held()
    assert api.client.delete(f"{DATASETS}/{dataset_id}", headers=headers).status_code == 204
    assert held() == []
