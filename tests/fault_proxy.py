"""A loopback TCP proxy in front of a real server: records requests, breaks replies on purpose.

This is the remote-engine tests' one stand-in, kept for what a real server cannot be made to
do: send a garbled stream or an arbitrary error status. Requests pass through to the upstream
server untouched (the JSON body of every ``…/completions`` request is recorded in
``requests``, so a test sees the exact prompt ids on the wire), except ``POST …/completions``
while a fault is set: ``cut`` closes both sides after ``after`` SSE events reached the client
(a connection dropped mid-reply), ``stall`` stops forwarding after ``after`` events but keeps
the connection open, ``garbage`` answers 200 ``text/event-stream`` with lines that are no
server-sent events, ``bad_json`` with ``data:`` lines that are not JSON, and ``status`` answers
that HTTP status with a JSON error whose message echoes ``echo`` (to prove keys are scrubbed).
A real server dying or hanging is tested on the real server itself (SIGKILL, SIGSTOP).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    """What to do to the next completion replies."""

    kind: str = "none"  # none | cut | stall | garbage | bad_json | status
    after: int = 2  # SSE events forwarded before cut/stall
    status: int = 500
    echo: str = ""


class FaultProxy:
    """Listens on 127.0.0.1 (``port``) and forwards to ``upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.fault = Fault()
        self.requests: list[dict[str, Any]] = []  # JSON bodies of completion requests
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._open: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        """The proxy's port."""
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        """The API base through the proxy."""
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        """Stop accepting and drop every connection."""
        self._closed.set()
        self._listener.close()
        for sock in self._open:
            _close(sock)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._open.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        head = _read_request(client)
        completion = b"/completions " in head.split(b"\r\n", 1)[0]
        if completion:
            with contextlib.suppress(ValueError):
                self.requests.append(json.loads(head.split(b"\r\n\r\n", 1)[1]))
        fault = self.fault if completion else Fault()
        if fault.kind in ("garbage", "bad_json", "status"):
            client.sendall(_canned(fault))
            _close(client)
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        self._open.append(upstream)
        upstream.sendall(head)
        threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
        events = 0
        while True:
            try:
                data = upstream.recv(4096)
            except OSError:
                break
            if not data:
                break
            seen = events + data.count(b"data: ")
            breaking = fault.kind in ("cut", "stall") and seen > fault.after
            if breaking:
                data = data[: _nth(data, b"data: ", fault.after - events)]
            events += data.count(b"data: ")
            try:
                client.sendall(data)
            except OSError:
                break
            if breaking:
                if fault.kind == "stall":
                    self._closed.wait()  # hold both ends open, send nothing more
                break
        _close(client)
        _close(upstream)


def _read_request(client: socket.socket) -> bytes:
    """One whole HTTP request (headers, then ``Content-Length`` bytes of body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _pipe(source: socket.socket, target: socket.socket) -> None:
    while True:
        try:
            data = source.recv(65536)
            if not data:
                return
            target.sendall(data)
        except OSError:
            return


def _nth(data: bytes, marker: bytes, n: int) -> int:
    """Offset of the (n+1)-th ``marker`` in ``data`` (everything before it is n markers)."""
    at = -1
    for _ in range(n + 1):
        at = data.find(marker, at + 1)
    return at


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _canned(fault: Fault) -> bytes:
    if fault.kind == "status":
        error = {"message": f"upstream failure for key {fault.echo}", "code": fault.status}
        body = json.dumps({"error": error}).encode()
        head = f"HTTP/1.1 {fault.status} Error\r\nContent-Type: application/json\r\n"
    else:
        body = (b"<html>oops</html>\n\n" if fault.kind == "garbage"
                else b'data: {"choices": [{"text": "Hi"}]}\n\ndata: {not json\n\n')
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    return (head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
