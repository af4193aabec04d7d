"""Prometheus metrics, module level, all named ``nexus_*``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "nexus_http_requests_total",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "nexus_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
HTTP_IN_PROGRESS = Gauge(
    "nexus_http_requests_in_progress",
    "HTTP requests being served.",
    ["method"],
)
AUTH_EVENTS = Counter(
    "nexus_auth_events_total",
    "Authentication events (login_succeeded, login_failed, token_refreshed, refresh_reuse_detected...).",
    ["event"],
)
RATE_LIMITED = Counter(
    "nexus_rate_limited_total",
    "Requests refused by a rate limit, by route template.",
    ["route"],
)

LLM_REQUESTS = Counter(
    "nexus_llm_requests_total",
    "Language-model requests, by provider, model, role and outcome (ok, invalid_output, unavailable, error).",
    ["provider", "model", "role", "outcome"],
)
LLM_TOKENS = Counter(
    "nexus_llm_tokens_total",
    "Tokens sent to (prompt) and received from (completion) language models.",
    ["model", "direction"],
)
LLM_DURATION = Histogram(
    "nexus_llm_request_duration_seconds",
    "Time of one language-model request, by model and role.",
    ["model", "role"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
)

AGENT_RUNS = Counter(
    "nexus_agent_runs_total",
    "Agent runs, by agent and outcome (answered, unresolved, failed, error).",
    ["agent", "outcome"],
)
AGENT_DURATION = Histogram(
    "nexus_agent_duration_seconds",
    "Time an agent took for one question.",
    ["agent"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
REVIEW_LOOPS = Counter(
    "nexus_review_loops_total",
    "Times the reviewer sent work back to an agent.",
)

SANDBOX_RUNS = Counter(
    "nexus_sandbox_runs_total",
    "Sandbox code runs, by outcome (ok, or the problem type such as code-rejected, sandbox-timeout).",
    ["outcome"],
)
SANDBOX_DURATION = Histogram(
    "nexus_sandbox_run_duration_seconds",
    "Time of one sandbox code run, policy check to answer.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

DOCUMENT_CHUNKS = Counter(
    "nexus_document_chunks_total",
    "Chunks embedded and stored from ingested documents.",
)
RETRIEVAL_DURATION = Histogram(
    "nexus_retrieval_duration_seconds",
    "Time of one document search, query embedding included, by mode (hybrid, vector, bm25).",
    ["mode"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

UNMATCHED_ROUTE = "<unmatched>"
