"""Slack's Web API transport: slack_sdk's WebClient over kept-alive connections."""

from __future__ import annotations

import http.client
import ssl
import threading
from typing import Any
from urllib.error import URLError
from urllib.parse import urljoin, urlsplit
from urllib.request import Request

import orjson
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.web import SlackResponse

# How slack_sdk words an answer that is not JSON (an HTML error page from Slack's edge).
NOT_JSON = "Received a response in a non-JSON format"


class KeepAlive:
    """Keep-alive connections to the Slack API, one per sending thread and origin.

    slack_sdk's urllib path opens (and for HTTPS, handshakes) a connection per call; an
    http.client connection is not thread-safe, so each thread keeps its own.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[http.client.HTTPConnection] = []

    def post(self, url: str, body: bytes | None, headers: dict[str, str]) -> dict[str, Any]:
        """POST and read the answer as slack_sdk's urllib path gives it, whatever its status."""
        answer, data = self.exchange(url, body, headers)
        # Text, but a gzip file as bytes.
        content: str | bytes = data
        if answer.headers.get_content_type() != "application/gzip":
            content = data.decode(answer.headers.get_content_charset() or "utf-8", "replace")
        return {"status": answer.status, "headers": dict(answer.getheaders()), "body": content}

    def exchange(
        self, url: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """POST and read the whole answer; a stale kept-alive socket is redone."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for _ in range(2):
            connection = self._connection(parts.scheme, parts.netloc)
            reused = connection.sock is not None
            try:
                connection.request("POST", path, body=body, headers=headers)
                answer = connection.getresponse()
                return answer, answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                if reused:  # the server dropped an idle connection: send on a new one
                    continue
                raise
            except (OSError, http.client.HTTPException):
                connection.close()
                raise
        raise http.client.RemoteDisconnected("Slack closed the connection")

    def close(self) -> None:
        """Close every connection any thread opened."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        mine: dict[tuple[str, str], http.client.HTTPConnection] | None
        mine = getattr(self._local, "connections", None)
        if mine is None:
            mine = self._local.connections = {}
        connection = mine.get((scheme, netloc))
        if connection is None:
            if scheme == "https":
                connection = http.client.HTTPSConnection(
                    netloc, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                connection = http.client.HTTPConnection(netloc, timeout=self.timeout)
            mine[(scheme, netloc)] = connection
            with self._lock:
                self._opened.append(connection)
        return connection


class KeepAliveWebClient(WebClient):
    """slack_sdk's WebClient sending over kept-alive connections; slack_sdk still builds
    each request and judges each answer (ok: false, a 429's Retry-After)."""

    def __init__(self, *, connections: KeepAlive, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connections = connections
        # The headers api_call sends with a JSON body, built once by slack_sdk itself.
        self._json_headers = self._build_urllib_request_headers(
            token=self.token or "", has_json=True, has_files=False, additional_headers={}
        )
        self._urls: dict[str, str] = {}

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        """Send the request slack_sdk built; answer as its urllib path does, for any status."""
        if not url.lower().startswith(("http://", "https://")):
            raise SlackClientError(f"Invalid URL detected: {url[:100]}")
        data = req.data if isinstance(req.data, bytes) else None
        try:
            return self.connections.post(url, data, dict(req.header_items()))
        except (OSError, http.client.HTTPException) as exc:
            raise URLError(exc) from None  # as urllib fails: SlackChat._call reports it

    def call_json(self, method: str, params: dict[str, Any]) -> SlackResponse:
        """Call `method` with a JSON body as `api_call(method, json=params)` does, for less CPU.

        DESIGN names slack_sdk for the Web API, and slack_sdk still judges every answer; this
        only skips api_call's layers (the request's arguments built three times over, a
        urllib Request, json's encoder and decoder), which took a third of the sender's CPU
        for each chat.postMessage, the call warroom makes by the thousand. It sends the same
        request (URL, slack_sdk's headers, the JSON body without None values) and judges the
        answer with slack_sdk's SlackResponse.validate: an HTTP error or ok=false raises
        SlackApiError as api_call does, with the answer's headers (a 429's Retry-After).
        """
        url = self._urls.get(method)
        if url is None:
            url = self._urls[method] = urljoin(self.base_url, method)
        body = orjson.dumps({k: v for k, v in params.items() if v is not None})
        answer, raw = self.connections.exchange(url, body, self._json_headers)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):  # as slack_sdk words an answer that is not JSON
            text = " ".join(raw.decode("utf-8", "replace").split())
            data = {"ok": False, "error": f"{NOT_JSON}: {text[:100]}"}
        response = SlackResponse(
            client=self,
            http_verb="POST",
            api_url=url,
            req_args={"json": params},
            data=data,
            headers=dict(answer.getheaders()),
            status_code=answer.status,
        )
        response.validate()  # type: ignore[no-untyped-call]
        return response
