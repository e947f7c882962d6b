"""Servers for the remote-engine tests: llama-cpp-python's real server and helpers.

:func:`start_llama_cpp_server` runs ``python -m llama_cpp.server`` (through
``remote_server_main.py``, AMX-safe) on 127.0.0.1 at a free port, requiring an API key, and
waits until it answers. The test modules share one instance per session through
:func:`shared_llama_cpp_server`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

API_KEY = "sk-starling-test-7f3a9c"
ALIAS = "smollm2-test"
SERVER_CTX = 256
_SHARED: dict[str, RunningServer] = {}


@dataclass
class RunningServer:
    """A started server process."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        """The OpenAI API base."""
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        """Terminate it (kill when it does not stop within 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_llama_cpp_server(model: Path, log: Path, *, timeout_s: float = 180) -> RunningServer:
    """Start llama-cpp-python's server on ``model``; wait until ``/v1/models`` answers."""
    port = free_port()
    launcher = Path(__file__).with_name("remote_server_main.py")
    cmd = [sys.executable, str(launcher), "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", str(SERVER_CTX), "--n_threads", "2",
           "--model_alias", ALIAS, "--api_key", API_KEY]
    env = {k: v for k, v in os.environ.items() if not k.endswith("API_KEY")}
    with open(log, "wb") as sink:
        process = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env)
    server = RunningServer(process, port, log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        request = urllib.request.Request(f"{server.url}/models",
                                         headers={"Authorization": f"Bearer {API_KEY}"})
        try:
            with urllib.request.urlopen(request, timeout=2) as reply:
                json.load(reply)
                return server
        except (OSError, urllib.error.URLError, ValueError):
            time.sleep(0.5)
    server.stop()
    raise RuntimeError("llama_cpp.server did not start in time")


def shared_llama_cpp_server(
    config: pytest.Config, factory: pytest.TempPathFactory, model: Path
) -> RunningServer:
    """One server for the whole session, whichever test module asks first."""
    if "server" not in _SHARED:
        server = start_llama_cpp_server(model, factory.mktemp("llama-cpp-server") / "server.log")
        _SHARED["server"] = server
        config.add_cleanup(server.stop)
    return _SHARED["server"]
