"""The orchestrator through HTTP: routing, conversations and follow-ups, review loops, SSE, failures.

The embedded model in these tests is SmolLM2 (see tests/fixtures/app.py); the model is asked only
where the rules are unsure.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from nexus.config import LLMSettings, SandboxSettings
from nexus.graph.registry import AGENTS
from nexus.graph.route import route_by_rules
from nexus.query.answer import Answerer
from nexus.query.parser import Parser
from nexus.query.spec import Aggregate, Measure
from nexus.users.models import Role
from tests.fixtures.app import Api, ApiFactory

DATASETS = "/api/v1/datasets"
QUERY = "/api/v1/query"
CONVERSATIONS = "/api/v1/conversations"

REGIONS = ["Europe", "Asia", "Africa"]
CATEGORIES = ["Books", "Toys"]
ROWS = [
    (
        i,
        f"{2023 + i % 2}-{1 + i % 12:02d}-{1 + i % 28:02d}",
        REGIONS[i % 3],
        CATEGORIES[(i // 2) % 2],
        round(10 + i * 1.5, 2),
    )
    for i in range(240)
]
SALES = (
    "order_id,order_date,region,category,amount\n"
    + "".join(f"{i},{d},{r},{c},{a}\n" for i, d, r, c, a in ROWS)
).encode()


def _upload(api: Api, headers: dict[str, str]) -> str:
    response = api.client.post(DATASETS, files={"file": ("sales.csv", SALES, "text/csv")}, headers=headers)
    assert response.status_code == 201, response.text
    dataset_id: str = response.json()["id"]
    return dataset_id


def _ask(api: Api, headers: dict[str, str], question: str, **body: Any) -> dict[str, Any]:
    response = api.client.post(QUERY, json={"question": question, **body}, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture
def owner(api: Api) -> tuple[dict[str, str], str]:
    headers = api.headers_for("owner")
    return headers, _upload(api, headers)


ROUTING: list[tuple[str, str]] = [
    ("total amount by region", "sql"),
    ("how much did we sell in 2024?", "sql"),
    ("what is the average amount per category?", "sql"),
    ("top 2 regions by amount", "sql"),
    ("how many orders were there in Europe?", "sql"),
    ("amount per month in 2023", "sql"),
    ("compare amount in 2023 and 2024", "sql"),
    ("month over month growth of amount", "sql"),
    ("what share of the amount came from Asia?", "sql"),
    ("median amount for Toys", "sql"),
    ("SELECT region, sum(amount) FROM data GROUP BY region", "sql"),
    ("WITH t AS (SELECT * FROM data) SELECT count(*) FROM t", "sql"),
    ("lowest amount in Africa", "sql"),
    ("how many distinct categories are there?", "sql"),
    ("total amount in Q1 2024", "sql"),
    ("average amount between March and June 2023", "sql"),
    ("amount by region and category", "sql"),
    ("which region has the highest total amount?", "sql"),
    ("quarterly amount", "sql"),
    ("how many orders in the last 3 months?", "sql"),
    ("plot the amount by region", "visualiser"),
    ("show me a bar chart of orders per month", "visualiser"),
    ("draw the monthly amount as a line chart", "visualiser"),
    ("visualise sales by category", "visualiser"),
    ("a pie chart of the amount per region please", "visualiser"),
    ("histogram of order amounts", "visualiser"),
    ("scatter of amount against order id", "visualiser"),
    ("graph the trend of the amount", "visualiser"),
    ("forecast the amount for the next 6 months", "timeseries"),
    ("predict next quarter's sales", "timeseries"),
    ("what will sales be next year?", "timeseries"),
    ("is there seasonality in the monthly amount?", "timeseries"),
    ("project revenue for the next 12 months", "timeseries"),
    ("are there anomalies in daily amounts?", "timeseries"),
    ("expected amount for next month", "timeseries"),
    ("what is the correlation between order id and amount?", "analyst"),
    ("standard deviation of the amount by region", "analyst"),
    ("find outliers in the amount", "analyst"),
    ("run a regression of amount on order id", "analyst"),
    ("what is the 90th percentile of the amount?", "analyst"),
]


def test_routing_table_through_http(api_factory: ApiFactory) -> None:
    # Routing is what is tested: the analyst gets one short try (its code is tested in tests/sandbox).
    api = api_factory(
        llm=LLMSettings(_env_file=None, embedded_model="smollm2-135m", llm_max_tokens=48),  # type: ignore[call-arg]
        sandbox=SandboxSettings(sandbox_workers=1, analyst_max_retries=0),
    )
    headers = api.headers_for("owner")
    dataset_id = _upload(api, headers)
    right = []
    wrong = []
    for question, expected in ROUTING:
        body = _ask(api, headers, question, dataset_ids=[dataset_id])
        (right if body["route"] == expected else wrong).append((question, expected, body["route"]))
    assert len(ROUTING) >= 40
    assert len(right) / len(ROUTING) >= 0.9, wrong


def test_document_questions_go_to_retrieval_only_when_there_are_documents() -> None:
    question = "what does the refund policy say about late returns?"
    assert route_by_rules(question, None, has_documents=True) == (
        "retrieval",
        "the question is about documents",
    )
    assert route_by_rules(question, None, has_documents=False) is None


def test_a_route_whose_agent_has_not_arrived_says_so(
    api: Api, owner: tuple[dict[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    headers, dataset_id = owner
    monkeypatch.delitem(AGENTS, "visualiser")  # as retrieval is until documents arrive
    body = _ask(api, headers, "plot the amount by region", dataset_ids=[dataset_id])
    assert body["route"] == "visualiser" and body["agent"] == "sql"
    assert "visualiser agent, which is not available yet" in body["answer"]
    assert body["result"]["row_count"] == 3


def test_a_follow_up_reuses_the_previous_plan(api_factory: ApiFactory, database_url: str) -> None:
    # The conversation's memory lives in the checkpointer: SQLite in the data dir, or PostgreSQL.
    api = api_factory(database_url)
    headers = api.headers_for("owner")
    dataset_id = _upload(api, headers)
    first = _ask(api, headers, "total amount by region", dataset_ids=[dataset_id])
    conversation = first["conversation_id"]
    second = _ask(api, headers, "only for 2024", conversation_id=conversation)
    assert second["planned_by"] == "memory" and second["conversation_id"] == conversation
    expected = {r: sum(a for _, d, reg, _, a in ROWS if reg == r and d.startswith("2024")) for r in REGIONS}
    assert {row[0]: row[1] for row in second["result"]["rows"]} == pytest.approx(expected)
    third = _ask(api, headers, "and by category?", conversation_id=conversation)
    assert {d["column"] for d in third["plan"]["dimensions"]} == {"region", "category"}
    assert third["result"]["row_count"] == 6
    history = api.client.get(f"{CONVERSATIONS}/{conversation}", headers=headers).json()
    assert [m["question"] for m in history["messages"]] == [
        "total amount by region",
        "only for 2024",
        "and by category?",
    ]
    assert history["messages"][1]["sql"] and history["messages"][1]["result"]["row_count"] == 3


def test_the_reviewer_catches_a_planted_wrong_aggregate(
    api: Api, owner: tuple[dict[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    headers, dataset_id = owner
    parse = Parser.parse

    def averaging(self: Parser, question: str) -> Any:
        parsed = parse(self, question)
        if parsed.spec is not None and parsed.spec.measures:
            wrong = Measure(agg=Aggregate.AVG, column=parsed.spec.measures[0].column)
            parsed.spec = parsed.spec.model_copy(update={"measures": [wrong]})
        return parsed

    monkeypatch.setattr(Parser, "parse", averaging)
    body = _ask(api, headers, "what is the total amount?", dataset_ids=[dataset_id])
    assert body["review"]["passed"] is True and body["review"]["loops"] == 1
    assert body["planned_by"] == "reviewer"
    assert body["plan"]["measures"][0]["agg"] == "sum"
    assert body["result"]["rows"][0][0] == pytest.approx(sum(a for *_, a in ROWS))


def test_a_grounding_failure_ends_in_an_honest_answer(
    api: Api, owner: tuple[dict[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    headers, dataset_id = owner
    write = Answerer.write

    def inventing(self: Answerer, *args: Any) -> str:
        return write(self, *args) + " That is 12,345.67 more than last year."

    monkeypatch.setattr(Answerer, "write", inventing)
    body = _ask(api, headers, "what is the total amount?", dataset_ids=[dataset_id])
    assert body["status"] == "failed"
    assert "12,345.67" not in body["answer"] and "could not produce an answer" in body["answer"]
    failed = [check for check in body["review"]["checks"] if not check["passed"]]
    assert [check["name"] for check in failed] == ["grounded"] and "12345.67" in failed[0]["detail"]
    assert body["review"]["loops"] == 2  # NEXUS_MAX_REVIEW_LOOPS


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_server_sent_events_come_in_order(api: Api, owner: tuple[dict[str, str], str]) -> None:
    headers, dataset_id = owner
    with api.client.stream(
        "POST",
        QUERY,
        json={"question": "total amount by region", "dataset_ids": [dataset_id]},
        headers={**headers, "Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response.read().decode())
    assert events[0][0] == "run" and events[-1][0] == "answer"
    steps = [(data["node"], data["phase"]) for name, data in events if name == "node"]
    assert steps == [
        (node, phase)
        for node in ("context", "route", "agent", "review", "respond")
        for phase in ("started", "finished")
    ]
    answer = events[-1][1]
    assert answer["status"] == "answered" and answer["run_id"] == events[0][1]["run_id"]


def test_server_sent_events_report_errors_as_events(api: Api) -> None:
    headers = api.headers_for("nobody")
    with api.client.stream(
        "POST",
        QUERY,
        json={"question": "total", "dataset_ids": ["00000000-0000-0000-0000-000000000000"]},
        headers={**headers, "Accept": "text/event-stream"},
    ) as response:
        events = _events(response.read().decode())
    assert events == [("error", {"status": 404, "type": "not-found", "detail": events[0][1]["detail"]})]


def test_ollama_down_is_a_503_that_says_what_to_do(api_factory: ApiFactory) -> None:
    llm = LLMSettings(
        _env_file=None, llm_provider="ollama", ollama_host="http://127.0.0.1:9", ollama_retries=0
    )  # type: ignore[call-arg]
    api = api_factory(llm=llm)
    headers = api.headers_for("analyst")
    dataset_id = _upload(api, headers)
    response = api.client.post(
        QUERY,
        json={"question": "what about the flux capacitor readings?", "dataset_ids": [dataset_id]},
        headers=headers,
    )
    assert response.status_code == 503, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"].endswith("model-unavailable") and "ollama serve" in problem["detail"]
    # Questions the rules can answer do not need the model at all.
    assert _ask(api, headers, "total amount by region", dataset_ids=[dataset_id])["status"] == "answered"


def test_conversations_belong_to_their_owner(api: Api, owner: tuple[dict[str, str], str]) -> None:
    headers, dataset_id = owner
    created = api.client.post(
        CONVERSATIONS, json={"dataset_ids": [dataset_id], "title": "Sales"}, headers=headers
    )
    assert created.status_code == 201
    conversation = created.json()["id"]
    body = _ask(api, headers, "total amount", conversation_id=conversation)
    assert body["conversation_id"] == conversation
    listed = api.client.get(CONVERSATIONS, headers=headers).json()
    assert [c["id"] for c in listed["items"]] == [conversation]
    stranger = api.headers_for("stranger")
    admin = api.headers_for("boss", Role.ADMIN)
    for other in (stranger, admin):
        assert api.client.get(f"{CONVERSATIONS}/{conversation}", headers=other).status_code == 404
        assert api.client.delete(f"{CONVERSATIONS}/{conversation}", headers=other).status_code == 404
        assert (
            api.client.post(
                QUERY, json={"question": "total", "conversation_id": conversation}, headers=other
            ).status_code
            == 404
        )
        assert api.client.get(CONVERSATIONS, headers=other).json()["items"] == []
    assert api.client.delete(f"{CONVERSATIONS}/{conversation}", headers=headers).status_code == 204
    assert api.client.get(f"{CONVERSATIONS}/{conversation}", headers=headers).status_code == 404
    state = api.runtime.graph.get_state({"configurable": {"thread_id": conversation}})
    assert not state.values  # the graph's memory of it is gone too


def test_a_cancelled_stream_stops_and_records_nothing(api: Api, owner: tuple[dict[str, str], str]) -> None:
    import queue
    import threading
    import uuid

    from sqlalchemy import func, select

    from nexus.conversations.models import Run
    from nexus.conversations.service import Asker
    from nexus.users.models import User

    _, dataset_id = owner
    events: queue.Queue[tuple[str, Any] | None] = queue.Queue()
    cancelled = threading.Event()
    cancelled.set()  # the client is already gone
    with api.runtime.sessions() as session:
        user = session.scalars(select(User).where(User.username == "owner")).one()
        Asker(session, api.runtime).stream(
            user, "total amount by region", [uuid.UUID(dataset_id)], None, cancelled, events
        )
        seen = []
        while (item := events.get_nowait()) is not None:
            seen.append(item[0])
        assert seen == ["run"]
        assert session.scalar(select(func.count()).select_from(Run)) == 0


def test_runs_are_counted_in_metrics(api: Api, owner: tuple[dict[str, str], str]) -> None:
    from prometheus_client import REGISTRY

    def value() -> float:
        return (
            REGISTRY.get_sample_value("nexus_agent_runs_total", {"agent": "sql", "outcome": "answered"})
            or 0.0
        )

    headers, dataset_id = owner
    before = value()
    _ask(api, headers, "total amount by region", dataset_ids=[dataset_id])
    assert value() == before + 1
