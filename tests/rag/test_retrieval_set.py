"""The retrieval test set: 69 questions over 14 documents, the relevant passage of each known.

Every document of ``tests/rag/corpus`` is uploaded through the API (the PDF and DOCX sources are
converted first), each question is searched with k=5, and a hit counts as relevant when it comes
from the question's document and shows at least half of the known passage (a passage may straddle
two chunks). Recall@5 and MRR are printed for the three modes; hybrid must reach recall@5 >= 0.9.
The questions without an answer in the corpus must find nothing above the relevance floor.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app import Api
from tests.fixtures.documents import CORPUS, corpus_files, upload

TARGET_RECALL_AT_5 = 0.9
TARGET_DECLINED = 0.85
"""Of the questions the corpus cannot answer, the share the agent must decline. Cosine similarity does
not separate them perfectly: at the default floor (0.35) one of eight ("the Wi-Fi password for the
guest network") meets the password rules at 0.41, while five answerable questions score 0.32-0.40.
docs/documents.md gives both rates for each floor."""


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _shows(passage: str, text: str) -> bool:
    """Whether a chunk's text shows the passage, or at least its first or second half."""
    words = _normal(passage).split()
    half = (len(words) + 1) // 2
    chunk = f" {_normal(text)} "
    return any(f" {' '.join(part)} " in chunk for part in (words, words[:half], words[-half:]))


def _load(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (CORPUS / name).read_text().splitlines() if line.strip()]


def _upload_name(document: str) -> str:
    for prefix, suffix in (("pdf-source-", ".pdf"), ("docx-source-", ".docx")):
        if document.startswith(prefix):
            return Path(document).stem.removeprefix(prefix) + suffix
    return document


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, str], dict[str, str]]]:
    """An app with the whole corpus uploaded by one analyst; returns (api, headers, file -> id)."""
    factory_request = _ModuleFactory(tmp_path_factory.mktemp("corpus"))
    api = factory_request.build()
    headers = api.headers_for("ana")
    ids = {}
    for filename, data in corpus_files().items():
        response = upload(api.client, headers, filename, data)
        assert response.status_code == 201, (filename, response.text)
        ids[filename] = response.json()["id"]
    yield api, headers, ids
    factory_request.close()


class _ModuleFactory:
    """api_factory is per test; the corpus is ingested once per module."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clients: list[Any] = []

    def build(self) -> Api:
        from fastapi.testclient import TestClient

        from nexus.main import create_app
        from nexus.migrate import upgrade
        from nexus.runtime import build_runtime
        from tests.fixtures.app import make_settings

        settings = make_settings(self.path / "data")
        runtime = build_runtime(settings)
        upgrade(runtime.engine)
        client = TestClient(create_app(settings, runtime=runtime), raise_server_exceptions=False)
        client.__enter__()
        self.clients.append(client)
        return Api(app=client.app, runtime=runtime, client=client)  # type: ignore[arg-type]

    def close(self) -> None:
        for client in self.clients:
            client.__exit__(None, None, None)


def _rank(
    api: Api, headers: dict[str, str], question: dict[str, Any], document_id: str, mode: str
) -> int | None:
    response = api.client.post(
        "/api/v1/documents/search",
        headers=headers,
        json={"query": question["question"], "k": 5, "mode": mode},
    )
    assert response.status_code == 200, response.text
    for rank, hit in enumerate(response.json()["hits"], start=1):
        if hit["document_id"] == document_id and _shows(question["passage"], hit["text"]):
            return rank
    return None


class TestRetrievalSet:
    def test_the_set_is_as_described(self) -> None:
        questions = _load("questions.jsonl")
        assert len(questions) >= 40
        assert len({q["document"] for q in questions}) >= 10

    def test_hybrid_recall_at_5_meets_the_target(
        self, corpus: tuple[Api, dict[str, str], dict[str, str]]
    ) -> None:
        api, headers, ids = corpus
        questions = _load("questions.jsonl")
        report = {}
        misses: dict[str, list[str]] = {}
        for mode in ("hybrid", "vector", "bm25"):
            ranks = [_rank(api, headers, q, ids[_upload_name(q["document"])], mode) for q in questions]
            recall = sum(rank is not None for rank in ranks) / len(ranks)
            mrr = sum(1 / rank for rank in ranks if rank) / len(ranks)
            report[mode] = (recall, mrr)
            misses[mode] = [q["id"] for q, rank in zip(questions, ranks, strict=True) if rank is None]
        print()
        for mode, (recall, mrr) in report.items():
            print(f"{mode:>7}: recall@5 {recall:.3f}  MRR {mrr:.3f}  misses {misses[mode]}")
        assert report["hybrid"][0] >= TARGET_RECALL_AT_5, report

    def test_questions_without_an_answer_are_declined(
        self, corpus: tuple[Api, dict[str, str], dict[str, str]]
    ) -> None:
        api, headers, _ = corpus
        floor = api.runtime.settings.documents.retrieval_min_similarity
        answered = []
        questions = _load("unanswerable.jsonl")
        for question in questions:
            response = api.client.post(
                "/api/v1/query", headers=headers, json={"question": question["question"]}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["agent"] == "retrieval"
            if body["status"] != "unresolved":
                answered.append((question["question"], body["citations"][0]["similarity"]))
        declined = 1 - len(answered) / len(questions)
        print(
            f"\nunanswerable questions declined: {declined:.3f}; answered anyway: {answered} (floor {floor})"
        )
        assert declined >= TARGET_DECLINED, answered

    def test_answerable_questions_are_answered_with_the_right_citation(
        self, corpus: tuple[Api, dict[str, str], dict[str, str]]
    ) -> None:
        api, headers, ids = corpus
        questions = _load("questions.jsonl")
        cited = 0
        for question in questions:
            body = api.client.post(
                "/api/v1/query", headers=headers, json={"question": question["question"]}
            ).json()
            document_id = ids[_upload_name(question["document"])]
            if body["status"] == "answered" and any(
                c["document_id"] == document_id and _shows(question["passage"], c["excerpt"])
                for c in body["citations"]
            ):
                cited += 1
        print(f"\nanswered with the relevant passage cited: {cited}/{len(questions)}")
        assert cited / len(questions) >= TARGET_RECALL_AT_5 - 0.05
