"""A small HTTP client for the Nexus API: sign in, keep the token fresh, upload files, ask questions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

API = "/api/v1"
_REFRESH_MARGIN_S = 60.0
_MAX_RATE_LIMIT_RETRIES = 5
_INGEST_WAIT_S = 300.0


class EvalError(RuntimeError):
    """The harness cannot go on: no sign-in, an upload refused."""


@dataclass(frozen=True)
class Reply:
    """What one question got back: the HTTP status, the body when it is JSON, the wall time."""

    status: int
    body: dict[str, Any] | None
    latency_s: float
    error: str = ""


class NexusClient:
    """Talks to one Nexus server as one user."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        timeout_s: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport)
        self._username = username
        self._password = password
        self._access = ""
        self._refresh = ""
        self._expires_at = 0.0

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> NexusClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def sign_in(self) -> None:
        """Get a token pair with the username and password (OAuth2 password form)."""
        response = self._send(
            "POST", f"{API}/auth/token", data={"username": self._username, "password": self._password}
        )
        if response.status_code != 200:
            raise EvalError(f"sign-in failed: HTTP {response.status_code} {response.text[:200]}")
        self._keep(response.json())

    def _keep(self, pair: dict[str, Any]) -> None:
        self._access = pair["access_token"]
        self._refresh = pair["refresh_token"]
        self._expires_at = time.monotonic() + float(pair.get("expires_in", 900))

    def _fresh_token(self) -> str:
        if not self._access:
            self.sign_in()
        elif time.monotonic() > self._expires_at - _REFRESH_MARGIN_S:
            response = self._send("POST", f"{API}/auth/refresh", json={"refresh_token": self._refresh})
            if response.status_code == 200:
                self._keep(response.json())
            else:
                self.sign_in()
        return self._access

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request, waiting out 429s as the server's Retry-After asks."""
        for _ in range(_MAX_RATE_LIMIT_RETRIES):
            response = self._http.request(method, url, **kwargs)
            if response.status_code != 429:
                return response
            time.sleep(retry_after(response))
        return response

    def _authed(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self._send(
            method, url, headers={"Authorization": f"Bearer {self._fresh_token()}"}, **kwargs
        )
        if response.status_code == 401:
            self.sign_in()
            response = self._send(method, url, headers={"Authorization": f"Bearer {self._access}"}, **kwargs)
        return response

    def upload(self, path: Path) -> dict[str, Any]:
        """Upload a file as a new dataset and return it once ready (id, tables...)."""
        content = path.read_bytes()  # bytes, not a handle: a retried request must send them again
        response = self._authed(
            "POST", f"{API}/datasets", files={"file": (path.name, content)}, data={"name": path.name}
        )
        if response.status_code != 201:
            raise EvalError(f"upload of {path} failed: HTTP {response.status_code} {response.text[:300]}")
        dataset: dict[str, Any] = response.json()
        deadline = time.monotonic() + _INGEST_WAIT_S
        while dataset.get("status") == "ingesting" and time.monotonic() < deadline:
            time.sleep(0.5)
            dataset = self._authed("GET", f"{API}/datasets/{dataset['id']}").json()
        if dataset.get("status") != "ready":
            raise EvalError(f"upload of {path} did not become ready: {dataset.get('status')}")
        return dataset

    def ask(self, question: str, dataset_ids: list[str]) -> Reply:
        """Ask a question over datasets; latency is the wall time of the (last) POST alone."""
        self._fresh_token()
        signed_in_again = False
        for _ in range(_MAX_RATE_LIMIT_RETRIES):
            started = time.perf_counter()
            try:
                response = self._http.post(
                    f"{API}/query",
                    json={"question": question, "dataset_ids": dataset_ids},
                    headers={"Authorization": f"Bearer {self._access}"},
                )
            except httpx.HTTPError as error:
                return Reply(0, None, time.perf_counter() - started, f"{type(error).__name__}: {error}")
            latency = time.perf_counter() - started
            if response.status_code == 401 and not signed_in_again:
                self.sign_in()
                signed_in_again = True
            elif response.status_code == 429:
                time.sleep(retry_after(response))
            else:
                break
        return _reply(response, latency)


def retry_after(response: httpx.Response) -> float:
    """Return how long a 429 asks to wait (seconds, at most a minute; 5 when it does not say)."""
    try:
        return min(max(float(response.headers.get("Retry-After", "5")), 0.0), 60.0)
    except ValueError:
        return 5.0


def _reply(response: httpx.Response, latency: float) -> Reply:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = None
    error = "" if response.status_code == 200 else response.text[:300]
    return Reply(response.status_code, body, latency, error)
