"""Search an owner's documents: BM25 and vectors, fused by reciprocal rank, optionally diversified.

    vector   the query's embedding against the owner's collection (cosine)
    bm25     bm25s over the owner's chunk texts (an index per owner, built on first search and rebuilt
             when the owner's set of documents changes)
    hybrid   both lists fused by reciprocal rank (score = sum of 1 / (60 + rank)), then, with
             ``mmr``, re-ordered by maximal marginal relevance so near-duplicates give way

Every hit carries its cosine similarity to the query (the agent's relevance floor uses it) and the
citation fields: document, title, page, heading path and character offsets.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from nexus.rag.embed import Embedder
from nexus.rag.store import ChunkStore, StoredChunk

Mode = Literal["hybrid", "vector", "bm25"]
RRF_K = 60
MMR_LAMBDA = 0.7
_OWNERS_CACHED = 32


@dataclass(frozen=True)
class Hit:
    """A chunk found for a query, with its scores and where it came from."""

    chunk: StoredChunk
    score: float
    similarity: float
    vector_rank: int | None
    bm25_rank: int | None


@dataclass
class _Index:
    key: frozenset[str]
    retriever: Any
    vocabulary: dict[str, int]
    chunks: list[StoredChunk]


class _BM25Indexes:
    """One bm25s index per owner, least recently used dropped first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[uuid.UUID, _Index] = OrderedDict()
        self._building: dict[uuid.UUID, threading.Lock] = {}

    def get(self, store: ChunkStore, owner_id: uuid.UUID, key: frozenset[str]) -> _Index | None:
        with self._lock:
            found = self._items.get(owner_id)
            if found is not None and found.key == key:
                self._items.move_to_end(owner_id)
                return found
            building = self._building.setdefault(owner_id, threading.Lock())
        with building:  # one build per owner at a time; others wait for it
            with self._lock:
                found = self._items.get(owner_id)
                if found is not None and found.key == key:
                    return found
            index = _build(store, owner_id, key)
            with self._lock:
                if index is None:
                    self._items.pop(owner_id, None)
                else:
                    self._items[owner_id] = index
                    self._items.move_to_end(owner_id)
                    while len(self._items) > _OWNERS_CACHED:
                        self._items.popitem(last=False)
            return index

    def forget(self, owner_id: uuid.UUID) -> None:
        with self._lock:
            self._items.pop(owner_id, None)


def _tokenizer() -> Any:
    import bm25s

    return bm25s.tokenization.Tokenizer(stopwords="en", stemmer=None)


def _build(store: ChunkStore, owner_id: uuid.UUID, key: frozenset[str]) -> _Index | None:
    import bm25s

    chunks = [chunk for chunk in store.scan(owner_id) if chunk.document_id in key]
    if not chunks:
        return None
    tokenizer = _tokenizer()
    tokens = tokenizer.tokenize([_searchable(c) for c in chunks], return_as="tuple", show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    return _Index(key=key, retriever=retriever, vocabulary=tokenizer.get_vocab_dict(), chunks=chunks)


def _searchable(chunk: StoredChunk) -> str:
    """Return what BM25 indexes: the title and heading path help short passages be found."""
    return " ".join([chunk.title, *chunk.headings, chunk.text])


INDEXES = _BM25Indexes()


class Retriever:
    """Hybrid search over one store with one embedder."""

    def __init__(self, store: ChunkStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder

    def search(
        self,
        owner_id: uuid.UUID,
        query: str,
        k: int,
        *,
        documents: Collection[str],
        mode: Mode = "hybrid",
        mmr: bool = False,
        timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        """Return the k best chunks among ``documents`` (the owner's ready documents' ids)."""
        timings = timings if timings is not None else {}
        key = frozenset(documents)
        if not key or not query.strip():
            return []
        pool = max(4 * k, 20)
        started = time.perf_counter()
        query_vector = np.asarray(self.embedder.embed([query])[0], dtype=np.float32)
        timings["embed_ms"] = _ms(started)
        vector_hits: list[StoredChunk] = []
        bm25_hits: list[StoredChunk] = []
        if mode in ("hybrid", "vector"):
            step = time.perf_counter()
            vector_hits = [
                c for c in self.store.nearest(owner_id, query_vector.tolist(), pool) if c.document_id in key
            ]
            timings["vector_ms"] = _ms(step)
        if mode in ("hybrid", "bm25"):
            step = time.perf_counter()
            bm25_hits = self._bm25(owner_id, query, pool, key)
            timings["bm25_ms"] = _ms(step)
        step = time.perf_counter()
        hits = self._fuse(owner_id, query_vector, vector_hits, bm25_hits)
        if mmr:
            hits = _mmr(hits, query_vector, k)
        timings["fuse_ms"] = _ms(step)
        return hits[:k]

    def _bm25(self, owner_id: uuid.UUID, query: str, n: int, key: frozenset[str]) -> list[StoredChunk]:
        index = INDEXES.get(self.store, owner_id, key)
        if index is None:
            return []
        vocab = index.vocabulary
        terms = [
            t
            for t in _tokenizer().tokenize([query], return_as="string", show_progress=False)[0]
            if t in vocab
        ]
        if not terms:
            return []
        query_ids = [[vocab[t] for t in terms]]
        found, scores = index.retriever.retrieve(
            query_ids, k=min(n, len(index.chunks)), show_progress=False, n_threads=1
        )
        # bm25s ranks every document; a score of 0 means no query term matched.
        return [index.chunks[int(i)] for i, s in zip(found[0], scores[0], strict=True) if s > 0]

    def _fuse(
        self,
        owner_id: uuid.UUID,
        query_vector: np.ndarray[Any, Any],
        vector_hits: Sequence[StoredChunk],
        bm25_hits: Sequence[StoredChunk],
    ) -> list[Hit]:
        ranks: dict[str, dict[str, int]] = {}
        chunks: dict[str, StoredChunk] = {}
        for name, found_by in (("vector", vector_hits), ("bm25", bm25_hits)):
            for rank, chunk in enumerate(found_by, start=1):
                ranks.setdefault(chunk.id, {})[name] = rank
                chunks.setdefault(chunk.id, chunk)
        scored = sorted(
            ((sum(1.0 / (RRF_K + r) for r in found.values()), id_) for id_, found in ranks.items()),
            key=lambda pair: (-pair[0], pair[1]),
        )
        missing = [id_ for id_ in ranks if chunks[id_].vector is None]
        vectors = self.store.vectors(owner_id, missing) if missing else {}
        hits = []
        for score, id_ in scored:
            chunk = chunks[id_]
            if chunk.vector is None and id_ in vectors:
                chunk = replace(chunk, vector=vectors[id_])
            similarity = float(np.dot(query_vector, chunk.vector)) if chunk.vector is not None else 0.0
            hits.append(
                Hit(
                    chunk=chunk,
                    score=round(score, 6),
                    similarity=round(similarity, 4),
                    vector_rank=ranks[id_].get("vector"),
                    bm25_rank=ranks[id_].get("bm25"),
                )
            )
        return hits


def _mmr(hits: list[Hit], query_vector: np.ndarray[Any, Any], k: int) -> list[Hit]:
    """Re-order hits by maximal marginal relevance: relevant, but unlike those already chosen."""
    usable = [h for h in hits if h.chunk.vector is not None]
    if len(usable) < 2:
        return hits
    matrix = np.asarray([h.chunk.vector for h in usable], dtype=np.float32)
    relevance = matrix @ query_vector
    chosen: list[int] = []
    left = list(range(len(usable)))
    while left and len(chosen) < k:
        if chosen:
            redundancy = (matrix[left] @ matrix[chosen].T).max(axis=1)
        else:
            redundancy = np.zeros(len(left), dtype=np.float32)
        values = MMR_LAMBDA * relevance[left] - (1 - MMR_LAMBDA) * redundancy
        pick = left[int(np.argmax(values))]
        chosen.append(pick)
        left.remove(pick)
    ordered = [usable[i] for i in chosen]
    taken = {h.chunk.id for h in ordered}
    return ordered + [h for h in hits if h.chunk.id not in taken]


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
