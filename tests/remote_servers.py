"""Real servers for the remote-engine tests: llama.cpp's ``llama-server`` and llama-cpp-python's.

- :func:`start_llama_server` runs the real ``llama-server`` (built from the installed
  llama-cpp-python's sources by :mod:`llama_server_build`) on 127.0.0.1 at a free port, with
  flash attention off (``-fa off``, what the local engine does on the CPU: same arithmetic,
  token-identical greedy replies), one slot, and weight repacking off where the project turns
  llama.cpp's extra buffer types off (AMX CPUs). :func:`shared_llama_server` keeps one per
  model for the whole session.
- :func:`start_llama_cpp_server` runs ``python -m llama_cpp.server`` (through
  ``remote_server_main.py``, AMX-safe), the text-only kind, requiring an API key.

Each waits until the server answers and is stopped at the end of the session.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

API_KEY = "sk-starling-test-7f3a9c"
ALIAS = "smollm2-test"
SERVER_CTX = 256
LLAMA_SERVER_CTX = 1024
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
            self.process.send_signal(signal.SIGCONT)  # a test may have paused it
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log (for failure messages)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(server: RunningServer, timeout_s: float, key: str | None, name: str) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{name} exited: {server.log_tail()}")
        request = urllib.request.Request(f"{server.url}/models", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=2) as reply:
                json.load(reply)
                return
        except (OSError, urllib.error.URLError, ValueError):
            time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"{name} did not start in {timeout_s:g}s: {server.log_tail()}")


def llama_server_command(binary: Path, model: Path, port: int, *, ctx: int, alias: str,
                         extra: Sequence[str] = ()) -> list[str]:
    """The ``llama-server`` command line the tests and benchmarks use."""
    from starling_tui.llama.backend import default_extra_bufts

    command = [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
               "-c", str(ctx), "-fa", "off", "-np", "1", "-t", "2", "-a", alias,
               "--no-webui", "--no-warmup"]
    if not default_extra_bufts():
        command.append("--no-repack")  # the project's AMX-safe choice (see llama_backend)
    return command + list(extra)


def start_llama_server(model: Path, log: Path, *, ctx: int = LLAMA_SERVER_CTX,
                       alias: str = ALIAS, extra: Sequence[str] = (),
                       timeout_s: float = 120) -> RunningServer:
    """Start the real llama-server on ``model`` (built on first use); wait until it answers.

    A failed build fails the calling test with the build log's tail (never a skip).
    """
    from llama_server_build import BuildFailed, llama_server

    try:
        binary = llama_server()
    except BuildFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    port = free_port()
    key = None
    if "--api-key" in extra:
        key = list(extra)[list(extra).index("--api-key") + 1]
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            llama_server_command(binary, model, port, ctx=ctx, alias=alias, extra=extra),
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = RunningServer(process, port, log)
    _wait_ready(server, timeout_s, key, "llama-server")
    return server


def shared_llama_server(config: pytest.Config, factory: pytest.TempPathFactory,
                        model: Path) -> RunningServer:
    """One llama-server per model for the whole session, whichever test module asks first."""
    name = f"llama-server:{model}"
    server = _SHARED.get(name)
    if server is None or server.process.poll() is not None:
        server = start_llama_server(model, factory.mktemp("llama-server") / "server.log")
        _SHARED[name] = server
        config.add_cleanup(server.stop)
    return server


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
    _wait_ready(server, timeout_s, API_KEY, "llama_cpp.server")
    return server


def shared_llama_cpp_server(
    config: pytest.Config, factory: pytest.TempPathFactory, model: Path
) -> RunningServer:
    """One server for the whole session, whichever test module asks first."""
    if "server" not in _SHARED:
        server = start_llama_cpp_server(model, factory.mktemp("llama-cpp-server") / "server.log")
        _SHARED["server"] = server
        config.add_cleanup(server.stop)
    return _SHARED["server"]
