"""The team set-up, chosen by settings alone: a Chroma server (NEXUS_CHROMA_URL) and Ollama embeddings."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from nexus.config import DocumentSettings, LLMSettings
from nexus.documents.models import Document, DocumentStatus
from nexus.documents.service import sweep_interrupted
from nexus.rag.chunk import Chunk
from nexus.rag.embed import OllamaEmbedder
from nexus.rag.store import ChunkStore
from nexus.users.models import Role
from tests.fixtures.app import ApiFactory
from tests.fixtures.documents import upload

if TYPE_CHECKING:
    from tests.fixtures.ollama_server import FakeOllama

pytest_plugins = ["tests.fixtures.chroma_server", "tests.fixtures.ollama_server"]

HANDBOOK = (
    "# Employee handbook\n\n## Parental leave\n\nNew parents receive sixteen weeks of fully paid parental "
    "leave.\n\n## Sick leave\n\nA doctor's note is needed after three consecutive sick days."
)


def _documents(**values: Any) -> DocumentSettings:
    return DocumentSettings(_env_file=None, **values)  # type: ignore[call-arg]


def _search(client: Any, headers: dict[str, str], query: str) -> list[dict[str, Any]]:
    response = client.post("/api/v1/documents/search", headers=headers, json={"query": query, "k": 5})
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["hits"]
    return hits


class TestChromaServer:
    def test_documents_live_in_the_server_and_owners_stay_apart(
        self, api_factory: ApiFactory, chroma_server: str
    ) -> None:
        api = api_factory(documents=_documents(chroma_url=chroma_server))
        ana, bob = api.headers_for("ana"), api.headers_for("bob")
        created = upload(api.client, ana, "handbook.md", HANDBOOK.encode()).json()
        assert created["status"] == "ready"
        assert _search(api.client, ana, "how long is parental leave")[0]["document_id"] == created["id"]
        assert _search(api.client, bob, "how long is parental leave") == []
        assert not (api.runtime.settings.storage.data_dir / "chroma").exists()
        # Another client of the same server sees the chunks: they are in the server, not in this process.
        other = ChunkStore(api.runtime.settings.storage.data_dir, chroma_server)
        try:
            document = uuid.UUID(created["id"])
            assert other.count(_owner(api, "ana"), document) == created["chunk_count"]
            assert other.count(_owner(api, "bob")) == 0
            assert api.client.delete(f"/api/v1/documents/{created['id']}", headers=ana).status_code == 204
            assert other.count(_owner(api, "ana"), document) == 0
        finally:
            other.close()


def _owner(api: Any, username: str) -> uuid.UUID:
    from nexus.users.models import User

    with api.runtime.sessions() as session:
        found: uuid.UUID = session.query(User).filter_by(username=username).one().id
        return found


class TestOllamaEmbeddings:
    def test_an_ollama_embedder_serves_ingestion_and_search(
        self, api_factory: ApiFactory, fake_ollama: FakeOllama
    ) -> None:
        api = api_factory(
            documents=_documents(embedder="ollama:llama3.1:8b"),
            llm=LLMSettings(_env_file=None, embedded_model="smollm2-135m", ollama_host=fake_ollama.url),  # type: ignore[call-arg]
        )
        assert isinstance(api.runtime.rag.embedder, OllamaEmbedder)
        ana = api.headers_for("ana")
        before = len([r for r in fake_ollama.requests if r[0] == "/api/embed"])
        created = upload(api.client, ana, "handbook.md", HANDBOOK.encode()).json()
        assert created["embedder"] == "ollama:llama3.1:8b"
        hits = _search(api.client, ana, "sick leave doctor's note")
        assert hits and hits[0]["document_id"] == created["id"]
        assert len([r for r in fake_ollama.requests if r[0] == "/api/embed"]) >= before + 2

    def test_ollama_down_is_503_and_leaves_nothing(self, api_factory: ApiFactory, ollama_down: str) -> None:
        api = api_factory(
            documents=_documents(embedder="ollama:nomic-embed-text"),
            llm=LLMSettings(
                _env_file=None, embedded_model="smollm2-135m", ollama_host=ollama_down, ollama_retries=0
            ),  # type: ignore[call-arg]
        )
        ana = api.headers_for("ana")
        response = upload(api.client, ana, "handbook.md", HANDBOOK.encode())
        assert response.status_code == 503
        assert "ollama serve" in response.json()["detail"]
        assert api.client.get("/api/v1/documents", headers=ana).json()["total"] == 0


class TestSweep:
    def test_documents_left_ingesting_by_a_crash_are_removed_with_their_chunks(
        self, api_factory: ApiFactory
    ) -> None:
        api = api_factory()
        ana = api.headers_for("ana")
        kept = upload(api.client, ana, "handbook.md", HANDBOOK.encode()).json()
        owner = _owner(api, "ana")
        with api.runtime.sessions() as session:
            crashed = session.get(Document, uuid.UUID(kept["id"]))
            assert crashed is not None
            crashed.status = DocumentStatus.INGESTING
            session.commit()
        assert api.runtime.rag.store.count(owner) > 0
        assert sweep_interrupted(api.runtime.sessions, api.runtime.rag) == 1
        assert api.runtime.rag.store.count(owner) == 0
        assert api.client.get("/api/v1/documents", headers=ana).json()["total"] == 0

    def test_a_deleted_users_collection_goes_with_them(self, api_factory: ApiFactory) -> None:
        api = api_factory()
        admin = api.headers_for("root", Role.ADMIN)
        ana = api.headers_for("ana")
        upload(api.client, ana, "handbook.md", HANDBOOK.encode())
        owner = _owner(api, "ana")
        assert owner in api.runtime.rag.store.owners()
        assert api.client.delete(f"/api/v1/users/{owner}", headers=admin).status_code == 204
        assert owner not in api.runtime.rag.store.owners()

    def test_the_sweep_removes_collections_whose_owner_is_gone(self, api_factory: ApiFactory) -> None:
        api = api_factory()
        ana = api.headers_for("ana")
        upload(api.client, ana, "handbook.md", HANDBOOK.encode())
        ghost = uuid.uuid4()
        vector = api.runtime.rag.embedder.embed(["left behind"])[0]
        api.runtime.rag.store.add(ghost, uuid.uuid4(), "Left behind", [_chunk("left behind")], [vector])
        assert sweep_interrupted(api.runtime.sessions, api.runtime.rag) == 1
        assert api.runtime.rag.store.owners() == [_owner(api, "ana")]


def _chunk(text: str) -> Chunk:
    return Chunk(ordinal=0, text=text, start=0, end=len(text), page=None, headings=())
