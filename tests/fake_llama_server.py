"""A loopback stand-in for llama.cpp's ``llama-server`` (its token-id prompt path), for tests.

llama-server is not built here (a llama.cpp build does not fit the test budget), so this
implements the endpoints the remote engine uses with llama-server's JSON shapes (read from
its source, ``tools/server``): ``GET /v1/models`` (``meta.n_ctx_train``), ``GET /props``
(``default_generation_settings.n_ctx``), ``POST /tokenize`` (``content``, ``add_special``,
``parse_special``) and streamed ``POST /v1/completions`` taking a prompt of token ids (no BOS
added), SSE chunks, ``timings`` and ``usage`` on the last chunk, ``data: [DONE]``. It really
evaluates the ids with llama.cpp (greedy) and records every request body for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from amx_safe_llama import patch_default_params


class FakeLlamaServer:
    """Serves one GGUF at ``url`` (``http://127.0.0.1:PORT/v1``) from a background thread."""

    def __init__(self, model_path: Path, *, n_ctx: int = 512, alias: str = "fake-llama") -> None:
        import llama_cpp

        patch_default_params()
        self.llm = llama_cpp.Llama(str(model_path), n_ctx=n_ctx, n_batch=n_ctx, verbose=False)
        self.lock = threading.Lock()
        self.n_ctx = n_ctx
        self.alias = alias
        self.model_path = str(model_path)
        self.requests: list[dict[str, Any]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        """The OpenAI API base."""
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        """Stop serving and free the model."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.llm.close()

    # -- endpoint bodies -----------------------------------------------------------------

    def models(self) -> dict[str, Any]:
        meta = {"vocab_type": 1, "n_vocab": self.llm.n_vocab(), "n_ctx": self.n_ctx,
                "n_ctx_train": self.llm._model.n_ctx_train()}
        entry = {"id": self.alias, "aliases": [], "tags": [], "object": "model",
                 "created": int(time.time()), "owned_by": "llamacpp", "meta": meta}
        return {"models": [], "object": "list", "data": [entry]}

    def props(self) -> dict[str, Any]:
        return {"default_generation_settings": {"params": {}, "n_ctx": self.n_ctx},
                "total_slots": 1, "model_alias": self.alias, "model_path": self.model_path,
                "chat_template": self.llm.metadata.get("tokenizer.chat_template", ""),
                "bos_token": "", "eos_token": "", "build_info": "fake"}

    def tokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            ids = self.llm.tokenize(str(body["content"]).encode(),
                                    add_bos=bool(body.get("add_special", False)),
                                    special=bool(body.get("parse_special", True)))
        return {"tokens": ids}

    def complete(self, body: dict[str, Any], send: Any) -> None:
        """Greedy decoding of the prompt ids, one SSE chunk per token."""
        import llama_cpp

        self.requests.append(body)
        prompt = body["prompt"]
        if not (isinstance(prompt, list) and all(isinstance(t, int) for t in prompt)):
            raise ValueError("this stand-in takes prompts of token ids only")
        limit = int(body.get("max_tokens", 16))
        vocab = self.llm._model.vocab
        start = time.perf_counter()
        first = None
        n = 0
        finish = "length"
        with self.lock:
            for token in self.llm.generate(prompt, temp=0.0, reset=True):
                first = first or time.perf_counter()
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    finish = "stop"
                    break
                n += 1
                piece = self.llm.detokenize([token]).decode("utf-8", "replace")
                send(self._chunk(piece, None))
                if n >= limit:
                    break
        end = time.perf_counter()
        gen_ms = (end - (first or end)) * 1000
        final = self._chunk("", finish)
        final["usage"] = {"completion_tokens": n, "prompt_tokens": len(prompt),
                          "total_tokens": n + len(prompt)}
        final["timings"] = {"cache_n": 0, "prompt_n": len(prompt),
                            "prompt_ms": ((first or end) - start) * 1000,
                            "predicted_n": n, "predicted_ms": gen_ms,
                            "predicted_per_second": n / (gen_ms / 1000) if gen_ms else 0.0}
        send(final)

    def _chunk(self, text: str, finish: str | None) -> dict[str, Any]:
        return {"choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
                "created": int(time.time()), "model": self.alias, "system_fingerprint": "fake",
                "object": "text_completion", "id": "cmpl-fake"}


def _handler(server: FakeLlamaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, status: int, data: Any) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            routes = {"/v1/models": server.models, "/models": server.models,
                      "/props": server.props, "/health": lambda: {"status": "ok"}}
            route = routes.get(self.path)
            if route is None:
                self._json(404, {"error": {"code": 404, "message": "File Not Found"}})
            else:
                self._json(200, route())

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/tokenize":
                self._json(200, server.tokenize(body))
            elif self.path in ("/v1/completions", "/completions"):
                self._stream(body)
            else:
                self._json(404, {"error": {"code": 404, "message": "File Not Found"}})

        def _stream(self, body: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def send_raw(text: str) -> None:
                raw = text.encode()
                self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
                self.wfile.flush()

            try:
                server.complete(body, lambda data: send_raw(f"data: {json.dumps(data)}\n\n"))
                send_raw("data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler
