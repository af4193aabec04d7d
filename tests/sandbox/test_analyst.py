"""The analyst agent through POST /query: code from a model, run in the sandbox, errors sent back.

The model here is scripted (it speaks the ``Models.structured`` interface and records what it was
asked); the sandbox, the datasets, the graph and the reviewer are the real ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from nexus.agents.analyst import AnalystReply, as_table, summarise
from nexus.config import LLMSettings, SandboxSettings
from nexus.llm.base import Message, ModelOutputInvalid
from tests.fixtures.app import Api, ApiFactory

QUESTION = "what is the correlation between price and quantity?"
ROWS = [(i, 2.0 + (i % 7) * 1.5, 10 + (i * 3) % 11) for i in range(80)]
CSV = ("order_id,price,quantity\n" + "".join(f"{i},{p},{q}\n" for i, p, q in ROWS)).encode()
EXPECTED = float(np.corrcoef([p for _, p, _ in ROWS], [q for _, _, q in ROWS])[0, 1])


class ScriptedModels:
    """Replies with the scripted answers in turn and keeps every conversation it was sent."""

    settings = LLMSettings(_env_file=None, embedded_model="smollm2-135m")  # type: ignore[call-arg]

    def __init__(self, replies: list[AnalystReply]) -> None:
        self.replies = list(replies)
        self.conversations: list[list[Message]] = []

    def structured(
        self, role: str, messages: Sequence[Message], answer_type: type[BaseModel], **_: Any
    ) -> Any:
        assert role == "analyst" and answer_type is AnalystReply
        self.conversations.append(list(messages))
        return self.replies.pop(0)

    def close(self) -> None:
        """Nothing to release."""


def _api(api_factory: ApiFactory, retries: int = 2) -> Api:
    return api_factory(sandbox=SandboxSettings(sandbox_workers=1, analyst_max_retries=retries))


def _ask(api: Api, models: ScriptedModels) -> dict[str, Any]:
    api.runtime.models.close()
    api.runtime.models = models  # type: ignore[assignment]
    headers = api.headers_for("ana")
    upload = api.client.post(
        "/api/v1/datasets", files={"file": ("orders.csv", CSV, "text/csv")}, headers=headers
    )
    assert upload.status_code == 201, upload.text
    response = api.client.post(
        "/api/v1/query", json={"question": QUESTION, "dataset_ids": [upload.json()["id"]]}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body["headers"] = headers
    return body


GOOD = AnalystReply(
    code="result = float(df['price'].corr(df['quantity']))",
    explanation="Pearson correlation of price and quantity over all orders.",
)


def test_refusals_and_exceptions_go_back_to_the_model_until_the_code_runs(api_factory: ApiFactory) -> None:
    api = _api(api_factory)
    models = ScriptedModels(
        [
            AnalystReply(code="import os\nresult = os.getcwd()", explanation="x"),
            AnalystReply(code="result = df['cost'].corr(df['quantity'])", explanation="x"),
            GOOD,
        ]
    )
    body = _ask(api, models)
    assert body["route"] == "analyst" and body["agent"] == "analyst" and body["status"] == "answered"
    assert body["code"] == GOOD.code and body["sql"] is None
    assert body["result"]["rows"][0][0] == pytest.approx(EXPECTED)
    assert f"{round(EXPECTED, 4)}" in body["answer"]
    assert body["review"]["passed"] is True
    assert any("3 attempts" in note for note in body["notes"])
    # the model saw the schema and sample rows, then each error in turn
    first, second, third = models.conversations
    assert "price (number" in first[0].content and "First rows of data" in first[0].content
    assert "[import]" in second[-1].content and "only pandas" in second[-1].content
    assert "KeyError" in third[-1].content and "'cost'" in third[-1].content
    # the conversation keeps the code that ran
    kept = api.client.get(f"/api/v1/conversations/{body['conversation_id']}", headers=body["headers"])
    assert kept.status_code == 200 and kept.json()["messages"][0]["code"] == GOOD.code


def test_after_the_last_retry_the_answer_says_what_failed(api_factory: ApiFactory) -> None:
    api = _api(api_factory, retries=1)
    bad = AnalystReply(code="result = df.to_csv('/tmp/out.csv')", explanation="x")
    models = ScriptedModels([bad, bad, bad])
    body = _ask(api, models)
    assert body["status"] == "unresolved" and body["agent"] == "analyst"
    assert "2 attempt(s)" in body["answer"] and "forbidden-attribute" in body["answer"]
    assert body["code"] == bad.code and body["result"] is None
    assert len(models.conversations) == 2


def test_a_model_that_cannot_fill_the_schema_leaves_the_question_unresolved_not_failed(
    api_factory: ApiFactory,
) -> None:
    class Garbled(ScriptedModels):
        def structured(
            self, role: str, messages: Sequence[Message], answer_type: type[BaseModel], **_: Any
        ) -> Any:
            self.conversations.append(list(messages))
            raise ModelOutputInvalid("The model's reply did not fit the expected AnalystReply twice.")

    api = _api(api_factory, retries=1)
    models = Garbled([])
    body = _ask(api, models)
    assert body["status"] == "unresolved" and body["agent"] == "analyst" and body["code"] is None
    assert "did not fit" in body["answer"] and len(models.conversations) == 2


def test_a_figure_the_work_does_not_show_is_left_out_of_the_answer(api_factory: ApiFactory) -> None:
    api = _api(api_factory)
    invented = AnalystReply(
        code=GOOD.code,
        explanation="Pearson correlation of price and quantity. The correlation is strong, about 0.93.",
    )
    models = ScriptedModels([invented])
    body = _ask(api, models)
    assert body["status"] == "answered" and body["review"]["passed"] and body["review"]["loops"] == 0
    assert "0.93" not in body["answer"] and "strong" not in body["answer"]
    assert body["answer"].startswith("Pearson correlation of price and quantity. The result is ")


def test_a_last_expression_is_the_result_and_an_unset_result_is_sent_back(api_factory: ApiFactory) -> None:
    api = _api(api_factory)
    models = ScriptedModels(
        [
            AnalystReply(code="x = df['price'].corr(df['quantity'])", explanation="x"),
            AnalystReply(code="df['price'].corr(df['quantity'])", explanation="The Pearson correlation."),
        ]
    )
    body = _ask(api, models)
    assert body["status"] == "answered"
    assert body["code"] == "result = (df['price'].corr(df['quantity']))"
    assert body["result"]["rows"][0][0] == pytest.approx(EXPECTED)
    assert "did not set result" in models.conversations[1][-1].content


@pytest.mark.parametrize(
    ("result", "words"),
    [
        ({"kind": "scalar", "value": 0.5}, "The result is 0.5."),
        ({"kind": "dict", "value": {"a": 1, "b": 2.5}}, "The result (key, value): a: 1; b: 2.5."),
        ({"kind": "list", "value": [1, 2]}, "The result (value): 1, 2."),
        ({"kind": "none", "value": None}, "The result is None."),
    ],
)
def test_results_in_words_take_their_figures_from_the_result(result: dict[str, Any], words: str) -> None:
    assert summarise(result) == words
    table = as_table(result)
    assert table["row_count"] == len(table["rows"])


def test_the_embedded_model_writes_code_that_runs(api_factory: ApiFactory) -> None:
    """The default model (Qwen2.5-Coder-1.5B, embedded), not a script: its code runs and is right."""
    api = api_factory(
        llm=LLMSettings(_env_file=None),  # type: ignore[call-arg]
        sandbox=SandboxSettings(sandbox_workers=1),
    )
    headers = api.headers_for("ana")
    upload = api.client.post(
        "/api/v1/datasets", files={"file": ("orders.csv", CSV, "text/csv")}, headers=headers
    )
    assert upload.status_code == 201, upload.text
    response = api.client.post(
        "/api/v1/query", json={"question": QUESTION, "dataset_ids": [upload.json()["id"]]}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["agent"] == "analyst" and body["status"] == "answered", body["answer"]
    assert "corr" in body["code"]
    assert body["result"]["rows"][0][0] == pytest.approx(EXPECTED)
    assert body["review"]["passed"] is True
