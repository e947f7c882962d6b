"""HTTP to the remote server with the standard library, every failure turned into one line.

``http.client`` is used rather than an HTTP library so that the stream's socket is ours: a
``cancel()`` from another thread shuts it down, which wakes a read blocked on a quiet server at
once, and a per-read socket timeout is the stall detector. Failures become
:class:`RemoteError` (an :class:`EngineError`) naming what happened — refused, DNS, TLS,
timeout, HTTP status — with the API key scrubbed out; never a traceback.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

from starling_tui.engine.remote.credentials import redact
from starling_tui.engine.remote.endpoint import Endpoint
from starling_tui.errors import EngineError


class RemoteError(EngineError):
    """A failed exchange with the server; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int = 0, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail  # the server's own message (redacted), for callers that parse it


class Transport:
    """Requests to one server: JSON calls and streamed replies."""

    def __init__(self, endpoint: Endpoint, api_key: str | None, *, connect_timeout_s: float = 10.0,
                 stall_timeout_s: float = 120.0, tls: ssl.SSLContext | None = None,
                 key_held_back: bool = False) -> None:
        self.endpoint = endpoint
        self._key = api_key
        self._key_held_back = key_held_back  # a key exists but is not sent (plain http)
        self.connect_timeout_s = connect_timeout_s
        self.stall_timeout_s = stall_timeout_s
        self._tls = tls

    def scrub(self, text: str) -> str:
        """``text`` with the API key removed."""
        return redact(text, self._key)

    def _connect(self) -> http.client.HTTPConnection:
        ep = self.endpoint
        conn: http.client.HTTPConnection
        if ep.scheme == "https":
            context = self._tls or ssl.create_default_context()
            conn = http.client.HTTPSConnection(ep.host, ep.port, timeout=self.connect_timeout_s,
                                               context=context)
        else:
            conn = http.client.HTTPConnection(ep.host, ep.port, timeout=self.connect_timeout_s)
        conn.connect()
        if conn.sock is not None:
            conn.sock.settimeout(self.stall_timeout_s)  # from here on: the stall limit per read
        return conn

    def _send(self, method: str, path: str, body: Any | None) -> tuple[Any, Any]:
        headers = {"Accept": "application/json, text/event-stream", "User-Agent": "starling-tui"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        conn = None
        try:
            conn = self._connect()
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            if conn is not None:
                conn.close()
            raise self.failure(exc) from None
        if response.status >= 400:
            text = _read_quietly(response)
            conn.close()
            raise self.status_failure(response.status, text, path)
        return conn, response

    def call(self, method: str, path: str, body: Any | None = None) -> Any:
        """One JSON request; the decoded reply. RemoteError on any failure."""
        conn, response = self._send(method, path, body)
        try:
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise self.failure(exc) from None
        finally:
            conn.close()
        try:
            return json.loads(raw)
        except ValueError:
            raise RemoteError(f"{self.endpoint.address}{path} did not answer with JSON") from None

    def stream(self, path: str, body: Any) -> EventStream:
        """POST ``body`` and return the reply as a stream of server-sent-event lines."""
        conn, response = self._send("POST", path, body)
        return EventStream(conn, response)

    def failure(self, exc: BaseException) -> RemoteError:
        """One line for a network-level failure."""
        where = self.endpoint.address
        if isinstance(exc, socket.gaierror):
            return RemoteError(f"cannot resolve the server's name {self.endpoint.host!r} "
                               f"({exc.strerror or exc})")
        if isinstance(exc, ConnectionRefusedError):
            return RemoteError(f"connection refused by {where} (is the server running?)")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return RemoteError(f"TLS certificate of {where} not trusted: {exc.verify_message}")
        if isinstance(exc, ssl.SSLError):
            return RemoteError(f"TLS error talking to {where}: {exc.reason or exc}")
        if isinstance(exc, TimeoutError):
            return RemoteError(f"{where} did not answer within {self._timeout_for(exc):g}s")
        if isinstance(exc, http.client.HTTPException):
            return RemoteError(f"{where} closed the connection or sent a malformed HTTP reply")
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return RemoteError(self.scrub(f"cannot reach {where}: {reason or type(exc).__name__}"))

    def _timeout_for(self, exc: BaseException) -> float:
        return self.connect_timeout_s if "connect" in str(exc) else self.stall_timeout_s

    def status_failure(self, status: int, text: str, path: str) -> RemoteError:
        """One line for an HTTP error status (the server's message, shortened and scrubbed)."""
        detail = self.scrub(_server_message(text))
        where = self.endpoint.address
        if status in (401, 403) and self._key_held_back:
            line = (f"{where} wants the API key (HTTP {status}), which is not sent over plain "
                    "http: use https://, or set send_key_over_http = true")
        elif status in (401, 403) and self._key is None:
            line = (f"{where} wants an API key (HTTP {status}): set STARLING_TUI_API_KEY, or "
                    "the api_key_env or api_key_file setting")
        elif status in (401, 403):
            line = (f"{where} refused the API key (HTTP {status}): check STARLING_TUI_API_KEY, "
                    "or the api_key_env or api_key_file setting")
        elif status == 404:
            line = f"{where}{path} not found (HTTP 404): check the engine URL and the model name"
        elif status == 429:
            line = f"{where} is busy or rate-limited (HTTP 429): try again later"
        elif status >= 500:
            line = f"{where} failed (HTTP {status})"
        else:
            line = f"{where} rejected the request (HTTP {status})"
        if detail:
            line += f": {detail}"
        return RemoteError(line, status, detail)


class EventStream:
    """A streamed reply read line by line; :meth:`abort` may be called from any thread."""

    def __init__(self, conn: http.client.HTTPConnection, response: Any) -> None:
        self._conn = conn
        self._response = response
        self._lock = threading.Lock()
        self.aborted = False

    def lines(self) -> Iterator[str]:
        """Decoded lines without their line ends; ends at end of stream. Raises OSError,
        ``http.client.HTTPException`` (truncated chunking) or UnicodeDecodeError."""
        while True:
            raw = self._response.readline()
            if not raw:
                return
            yield raw.decode("utf-8").rstrip("\r\n")

    def abort(self) -> None:
        """Close the connection now: a read blocked in another thread returns at once."""
        with self._lock:
            self.aborted = True
            sock = self._conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):  # already closed by the other side
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Release the connection."""
        self.abort()
        self._conn.close()


def _read_quietly(response: Any) -> str:
    try:
        return str(response.read(4096).decode("utf-8", "replace"))
    except (OSError, http.client.HTTPException):
        return ""


def _server_message(text: str) -> str:
    """The server's error message from a JSON error body (or its first line), ≤200 chars."""
    message: Any = text
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            message = data.get("error", data.get("detail", data.get("message", text)))
            if isinstance(message, dict):
                message = message.get("message", json.dumps(message))
    except ValueError:
        pass
    lines = str(message).strip().splitlines()
    first = lines[0] if lines else ""
    return first[:200] + ("…" if len(first) > 200 else "")
