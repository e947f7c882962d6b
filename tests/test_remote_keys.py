"""Keys go only where the user sent them: a server that records request headers proves it.

The recording server answers like a generic OpenAI-compatible server that lists one model and
takes text only, so a load stops after the probe (no GGUF is named): every request it got is
in ``headers``. It listens on all interfaces, so the same server is reached over loopback
(``127.0.0.1``) and as another machine would reach it (this machine's own network address:
plain http there must not carry the key unless ``send_key_over_http`` says so).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.remote.credentials import KeySource
from starling_tui.engine.remote.engine import RemoteEngine
from starling_tui.errors import EngineError

OURS = "sk-ours-1b2c"
OPENAI = "sk-openai-9z8y"


class RecordingServer:
    """Answers ``GET /v1/models`` with one model and 404 elsewhere; keeps every request's
    ``Authorization`` header (None when absent)."""

    def __init__(self) -> None:
        self.headers: list[str | None] = []
        recorded = self.headers

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                recorded.append(self.headers.get("Authorization"))
                found = self.path == "/v1/models"
                raw = json.dumps({"data": [{"id": "m"}]} if found else {"detail": "no"}).encode()
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, host: str) -> str:
        """The API base as reached through ``host``."""
        return f"http://{host}:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    server = RecordingServer()
    yield server
    server.close()


@pytest.fixture
def lan_host() -> str:
    """This machine's address on its network (not loopback), or skip where it has none."""
    candidates: list[str] = []
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 9))  # no packet is sent: this only picks a route
        candidates.append(str(probe.getsockname()[0]))
    except OSError:
        pass
    finally:
        probe.close()
    with contextlib.suppress(OSError):
        candidates += [str(info[4][0]) for info in socket.getaddrinfo(
            socket.gethostname(), None, socket.AF_INET)]
    for address in candidates:
        if not address.startswith(("127.", "0.")):
            return address
    pytest.skip("this machine has no non-loopback IPv4 address")


def load(url: str, environ: dict[str, str], keys: KeySource | None = None,
         notes: list[str] | None = None) -> None:
    """Load the remote engine (it stops after the probe: a text-only server, no GGUF)."""
    remote = RemoteEngine(url, keys=keys, environ=environ,
                          notify=(notes.append if notes is not None else lambda _line: None))
    with pytest.raises(EngineError, match="takes prompts as text only"):
        remote.load(EngineOptions(model_path=""))
    remote.close()


def test_our_variable_is_sent_over_loopback(recorder: RecordingServer) -> None:
    load(recorder.url("127.0.0.1"), {"STARLING_TUI_API_KEY": OURS, "OPENAI_API_KEY": OPENAI})
    assert recorder.headers and set(recorder.headers) == {f"Bearer {OURS}"}


def test_another_services_key_is_never_picked_up(recorder: RecordingServer) -> None:
    load(recorder.url("127.0.0.1"), {"OPENAI_API_KEY": OPENAI, "HF_TOKEN": "hf_x"})
    assert recorder.headers and set(recorder.headers) == {None}


def test_a_variable_named_in_the_settings_is_read(recorder: RecordingServer) -> None:
    load(recorder.url("127.0.0.1"), {"OPENAI_API_KEY": OPENAI},
         KeySource(env_name="OPENAI_API_KEY"))
    assert set(recorder.headers) == {f"Bearer {OPENAI}"}


def test_the_key_file_is_read(recorder: RecordingServer, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(OURS + "\n")
    load(recorder.url("127.0.0.1"), {}, KeySource(file=str(key_file)))
    assert set(recorder.headers) == {f"Bearer {OURS}"}


def test_no_key_over_plain_http_to_another_machine(recorder: RecordingServer,
                                                   lan_host: str) -> None:
    notes: list[str] = []
    load(recorder.url(lan_host), {"STARLING_TUI_API_KEY": OURS}, notes=notes)
    assert recorder.headers and set(recorder.headers) == {None}
    assert any("not sent" in note and "send_key_over_http" in note for note in notes)
    assert not any(OURS in note for note in notes)


def test_the_opt_in_sends_it_over_plain_http(recorder: RecordingServer, lan_host: str) -> None:
    load(recorder.url(lan_host), {"STARLING_TUI_API_KEY": OURS},
         KeySource(send_over_http=True))
    assert set(recorder.headers) == {f"Bearer {OURS}"}


def test_ask_sends_no_unexpected_key(recorder: RecordingServer, lan_host: str,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from starling_tui.cli.main import main

    monkeypatch.setenv("OPENAI_API_KEY", OPENAI)
    for url in (recorder.url("127.0.0.1"), recorder.url(lan_host)):
        assert main(["ask", "--engine", url, "Hi"]) != 0
    monkeypatch.setenv("STARLING_TUI_API_KEY", OURS)
    assert main(["ask", "--engine", recorder.url(lan_host), "Hi"]) != 0
    err = capsys.readouterr().err
    assert "takes prompts as text only" in err and OURS not in err and OPENAI not in err
    assert recorder.headers and set(recorder.headers) == {None}


def test_a_named_variable_that_is_not_set_is_one_line() -> None:
    remote = RemoteEngine("http://127.0.0.1:9/v1", keys=KeySource(env_name="MY_KEY"),
                          environ={})
    with pytest.raises(EngineError, match="api_key_env names MY_KEY, which is not set"):
        remote.load(EngineOptions(model_path=""))
