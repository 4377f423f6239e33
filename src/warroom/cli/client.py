"""A small HTTP client for the warroom API, used by the CLI and the demo."""

import os
from typing import Any

import httpx

from warroom.core.errors import WarroomError


class ApiError(WarroomError):
    """The server answered with an error; `status` is the HTTP status."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message, details)
        self.status = status
        self.code = code


class ApiClient:
    """Talks JSON to a warroom server with a bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        client_name: str = "cli",
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        headers = {"X-Warroom-Client": client_name, "User-Agent": f"warroom-{client_name}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    @classmethod
    def from_env(cls) -> "ApiClient":
        """Build a client from WARROOM_URL and WARROOM_TOKEN."""
        url = os.environ.get("WARROOM_URL") or "http://127.0.0.1:8080"
        return cls(url, os.environ.get("WARROOM_TOKEN"))

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Send a request and return the decoded JSON, or raise ApiError."""
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                raise ApiError(
                    response.status_code,
                    error.get("code", "error"),
                    error.get("message", response.text),
                    error.get("details"),
                )
            except (ValueError, KeyError, TypeError):
                raise ApiError(
                    response.status_code,
                    "error",
                    f"HTTP {response.status_code}: {response.text[:200]}",
                ) from None
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code,
                "bad_response",
                f"{self.base_url} answered with something that is not JSON; "
                "is WARROOM_URL a warroom server?",
            ) from None

    def get(self, path: str, **params: Any) -> Any:
        """GET `path` with query parameters (None values dropped)."""
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        """POST a JSON body."""
        return self.request("POST", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        """PATCH with a JSON body."""
        return self.request("PATCH", path, json=body)

    @property
    def http(self) -> httpx.Client:
        """Return the underlying httpx client, for streamed uploads and downloads."""
        return self._http

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
