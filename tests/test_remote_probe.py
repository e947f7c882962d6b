"""Probing: each server kind is told apart by its own endpoints' JSON (loopback stand-ins)."""

from __future__ import annotations

import threading

import pytest

from starling_tui.engine.remote.endpoint import parse_endpoint
from starling_tui.engine.remote.probe import probe_server
from starling_tui.engine.remote.transport import Transport
from starling_tui.errors import EngineError


def _transport(url: str) -> Transport:
    return Transport(parse_endpoint(url), None)


def _json_server(routes: dict[str, object]) -> tuple[str, object]:
    """A loopback server answering ``"METHOD /path"`` routes with JSON (404 otherwise)."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            key = f"{self.command} {self.path}"
            raw = json.dumps(routes.get(key, {"detail": "Not Found"})).encode()
            self.send_response(200 if key in routes else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/v1", httpd


@pytest.mark.parametrize(("routes", "kind", "takes_ids", "n_ctx"), [
    ({"POST /tokenize": {"tokens": [64], "count": 1, "max_model_len": 8192}},
     "vllm", True, 8192),
    ({"GET /api/version": {"version": "0.9"},
      "POST /api/show": {"parameters": "stop <|im_end|>\nnum_ctx 4096"}}, "ollama", False, 4096),
    ({"POST /extras/tokenize": {"tokens": [64]}}, "llama-cpp-python", False, None),
    ({}, "openai", False, None),
])
def test_probe_tells_server_kinds_apart(routes: dict[str, object], kind: str, takes_ids: bool,
                                        n_ctx: int | None) -> None:
    url, httpd = _json_server({"GET /v1/models": {"data": [{"id": "m-1"}]}, **routes})
    try:
        profile = probe_server(_transport(url))
    finally:
        httpd.shutdown()  # type: ignore[attr-defined]
    assert (profile.kind, profile.takes_ids, profile.n_ctx, profile.model) == (
        kind, takes_ids, n_ctx, "m-1")


def test_a_server_without_models_is_refused() -> None:
    url, httpd = _json_server({"GET /v1/models": {"data": []}})
    try:
        with pytest.raises(EngineError, match="lists no model"):
            probe_server(_transport(url))
    finally:
        httpd.shutdown()  # type: ignore[attr-defined]
