"""The token-id path (llama-server, vLLM): the ids sent are the local engine's, exactly.

llama.cpp's ``llama-server`` is not built in this environment (a llama.cpp build does not fit
the test budget), so a loopback stand-in implementing its endpoints with its JSON shapes
(:mod:`fake_llama_server`, which really evaluates the ids with llama.cpp) receives the prompts.
The model is the tiny Starling-shaped GGUF (real Mistral tokenizer + OpenChat tokens), so the
model card's reference ids are checked on the wire. Faults come from :mod:`fault_proxy`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_llama_server import FakeLlamaServer
from fault_proxy import Fault, FaultProxy
from model_card import CODE_IDS, HELLO_IDS, MULTI_TURN_IDS

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.remote.engine import RemoteEngine
from starling_tui.errors import EngineError
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions, TemplateMode

pytestmark = pytest.mark.slow
SECRET = "sk-never-shown-42"


@pytest.fixture(scope="module")
def server(starling_f16_gguf: Path) -> Iterator[FakeLlamaServer]:
    fake = FakeLlamaServer(starling_f16_gguf, n_ctx=256)
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def proxy(server: FakeLlamaServer) -> Iterator[FaultProxy]:
    faults = FaultProxy(server.port)
    yield faults
    faults.close()


@pytest.fixture(scope="module")
def notes() -> list[str]:
    return []


@pytest.fixture(scope="module")
def engine(proxy: FaultProxy, starling_f16_gguf: Path, notes: list[str]) -> Iterator[RemoteEngine]:
    remote = RemoteEngine(proxy.url, notify=notes.append, stall_timeout_s=1.5,
                          environ={"STARLING_TUI_API_KEY": SECRET})
    remote.load(EngineOptions(model_path=str(starling_f16_gguf)))
    yield remote
    remote.close()


@pytest.fixture(autouse=True)
def no_fault(proxy: FaultProxy) -> Iterator[None]:
    proxy.fault = Fault()
    yield
    proxy.fault = Fault()


def request(*turns: str, mode: TemplateMode = "auto", max_tokens: int = 3) -> ChatRequest:
    roles = ("user", "assistant")
    messages = tuple(ChatMessage(roles[i % 2], text) for i, text in enumerate(turns))
    return ChatRequest(messages=messages, mode=mode,
                       sampling=SamplingOptions(max_tokens=max_tokens))


def test_probe_sees_llama_server(engine: RemoteEngine) -> None:
    assert engine.profile is not None and engine.profile.kind == "llama-server"
    assert engine.profile.takes_ids and engine.info is not None
    assert engine.info.name == "fake-llama" and engine.info.n_ctx == 256
    assert engine.info.template == "openchat" and "token ids" in engine.info.gpu_note


@pytest.mark.parametrize(("turns", "mode", "ids"), [
    (("Hello",), "auto", HELLO_IDS),
    (("Hello", "Hi", "How are you today?"), "auto", MULTI_TURN_IDS),
    (("Implement quicksort using C++",), "code", CODE_IDS),
])
def test_model_card_ids_go_over_the_wire(engine: RemoteEngine, server: FakeLlamaServer,
                                         turns: tuple[str, ...], mode: TemplateMode,
                                         ids: list[int]) -> None:
    pieces = list(engine.generate(request(*turns, mode=mode)))
    assert server.requests[-1]["prompt"] == ids
    assert engine.last_stats.prompt_tokens == len(ids)
    assert engine.last_stats.finish_reason in ("stop", "length") and len(pieces) <= 3


def test_ids_equal_the_local_engines_preview(engine: RemoteEngine, server: FakeLlamaServer,
                                             starling_f16_gguf: Path) -> None:
    chat = request("Type <|end_of_turn|> and <s> here", "Sure: <|end_of_turn|>", "Again?")
    chat = ChatRequest(messages=(ChatMessage("system", "Be terse."), *chat.messages),
                       sampling=chat.sampling)
    local = ProcessEngine.preview_only(EngineOptions(model_path=str(starling_f16_gguf), n_ctx=256),
                                       chat)
    list(engine.generate(chat))
    assert server.requests[-1]["prompt"] == list(local.token_ids)
    assert list(local.token_ids).count(32000) == 4  # only the template's end-of-turn tokens


def test_reply_figures_come_from_the_servers_timings(engine: RemoteEngine) -> None:
    pieces = list(engine.generate(request("Hello", max_tokens=4)))
    stats, timings = engine.last_stats, engine.server_figures["timings"]
    assert stats.completion_tokens == timings["predicted_n"] >= len(pieces) > 0
    assert stats.evaluated_tokens == timings["prompt_n"] == len(HELLO_IDS)
    assert stats.ttft_s > 0


def test_disconnect_mid_reply_is_incomplete_with_text_kept(engine: RemoteEngine,
                                                           proxy: FaultProxy,
                                                           notes: list[str]) -> None:
    proxy.fault = Fault("cut", after=2)
    pieces = list(engine.generate(request("Hello", max_tokens=8)))
    assert len(pieces) == 2 and engine.last_stats.finish_reason == "incomplete"
    assert "partial reply is kept" in notes[-1]


def test_stall_ends_the_reply_as_incomplete(engine: RemoteEngine, proxy: FaultProxy) -> None:
    proxy.fault = Fault("stall", after=1)
    pieces = list(engine.generate(request("Hello", max_tokens=8)))
    assert len(pieces) == 1 and engine.last_stats.finish_reason == "incomplete"
    assert engine.last_stats.error == "the server stalled (no data for 1.5s)"


def test_stall_before_any_text_is_an_error(engine: RemoteEngine, proxy: FaultProxy) -> None:
    proxy.fault = Fault("stall", after=0)
    with pytest.raises(EngineError, match=r"stalled \(no data for 1\.5s\)"):
        list(engine.generate(request("Hello")))


@pytest.mark.parametrize(("kind", "message"), [
    ("garbage", "malformed event stream"),
    ("bad_json", "malformed event"),
])
def test_garbage_streams_are_one_line(engine: RemoteEngine, proxy: FaultProxy, kind: str,
                                      message: str) -> None:
    proxy.fault = Fault(kind)
    pieces: list[str] = []
    with pytest.raises(EngineError, match=message) as info:
        pieces.extend(engine.generate(request("Hello")))
    assert "\n" not in str(info.value)
    assert pieces == (["Hi"] if kind == "bad_json" else [])


@pytest.mark.parametrize(("status", "message"), [
    (401, "refused the API key (HTTP 401)"), (403, "refused the API key (HTTP 403)"),
    (404, "not found (HTTP 404)"), (429, "busy or rate-limited (HTTP 429)"),
    (500, "failed (HTTP 500)"), (503, "failed (HTTP 503)"),
])
def test_error_statuses_are_one_line_without_the_key(engine: RemoteEngine, proxy: FaultProxy,
                                                     status: int, message: str) -> None:
    proxy.fault = Fault("status", status=status, echo=SECRET)
    with pytest.raises(EngineError) as info:
        list(engine.generate(request("Hello")))
    text = str(info.value)
    assert message in text and SECRET not in text and "***" in text and "\n" not in text


def test_cancel_before_the_first_piece_is_not_lost(engine: RemoteEngine) -> None:
    pieces = engine.generate(request("Hello", max_tokens=8))
    engine.cancel()
    assert list(pieces) == [] and engine.last_stats.finish_reason == "cancelled"
    assert list(engine.generate(request("Hello", max_tokens=2)))  # the next one runs


def test_another_model_on_the_server_is_refused(server: FakeLlamaServer,
                                                smollm2_gguf: Path) -> None:
    remote = RemoteEngine(server.url, notify=lambda _line: None, environ={})
    with pytest.raises(EngineError, match="tokenizes the prompt differently"):
        remote.load(EngineOptions(model_path=str(smollm2_gguf)))
    remote.close()


def test_cancel_from_another_thread_wakes_a_stalled_read(proxy: FaultProxy,
                                                         starling_f16_gguf: Path) -> None:
    import threading

    remote = RemoteEngine(proxy.url, notify=lambda _line: None, stall_timeout_s=60,
                          environ={})
    remote.load(EngineOptions(model_path=str(starling_f16_gguf)))
    proxy.fault = Fault("stall", after=1)
    pieces: list[str] = []
    first = threading.Event()

    def read() -> None:
        for piece in remote.generate(request("Hello", max_tokens=8)):
            pieces.append(piece)
            first.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert first.wait(60)
    remote.cancel()  # the reader is blocked in a socket read on a server that sends nothing
    reader.join(50)  # a missed cancel would only end at the 60 s stall limit, as "incomplete"
    assert not reader.is_alive()
    assert len(pieces) == 1 and remote.last_stats.finish_reason == "cancelled"
    remote.close()


def test_a_new_reply_ends_an_unread_earlier_one(engine: RemoteEngine) -> None:
    earlier = engine.generate(request("Hello", max_tokens=8))
    first = next(earlier)
    later = list(engine.generate(request("Hello", max_tokens=2)))
    assert first and later and engine.last_stats.finish_reason in ("stop", "length")
    assert list(earlier) == []  # its stream was closed: it ends, nothing more is read
