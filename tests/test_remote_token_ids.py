"""The token-id path against the real llama-server: the ids on the wire are the local engine's.

The server is llama.cpp's own ``llama-server``, built from the installed llama-cpp-python's
sources (:mod:`llama_server_build`, cached) and run by :mod:`remote_servers`. The model is the
tiny Starling-shaped GGUF (the real Mistral v1 tokenizer with OpenChat's tokens, so the model
card's reference ids are checked on the wire), with and without the local GGUF named: without
it the prompt is built with the server's own tokenizer. A recording proxy (:mod:`fault_proxy`)
shows the request bodies and injects what a real server cannot be made to do (garbled streams,
arbitrary statuses). Hung and killed servers, cancel and replies compared token for token with
the local engine are in ``test_remote_llama_server.py`` (SmolLM2: slow enough to interrupt).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_proxy import Fault, FaultProxy
from model_card import CODE_IDS, HELLO_IDS, MULTI_TURN_IDS
from remote_servers import ALIAS, LLAMA_SERVER_CTX, RunningServer, shared_llama_server

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.remote.engine import RemoteEngine
from starling_tui.errors import EngineError
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions, TemplateMode

pytestmark = pytest.mark.slow
SECRET = "sk-never-shown-42"
NO_MODEL = EngineOptions(model_path="")


@pytest.fixture(scope="module")
def server(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory,
           starling_f16_gguf: Path) -> RunningServer:
    return shared_llama_server(pytestconfig, tmp_path_factory, starling_f16_gguf)


@pytest.fixture(scope="module")
def proxy(server: RunningServer) -> Iterator[FaultProxy]:
    faults = FaultProxy(server.port)
    yield faults
    faults.close()


@pytest.fixture(scope="module")
def notes() -> list[str]:
    return []


@pytest.fixture(scope="module")
def engine(proxy: FaultProxy, notes: list[str]) -> Iterator[RemoteEngine]:
    """The remote engine with no local model: prompts come from the server's tokenizer."""
    remote = RemoteEngine(proxy.url, notify=notes.append,
                          environ={"STARLING_TUI_API_KEY": SECRET})
    remote.load(NO_MODEL)
    yield remote
    remote.close()


@pytest.fixture(scope="module")
def local_vocab_engine(proxy: FaultProxy, starling_f16_gguf: Path) -> Iterator[RemoteEngine]:
    """The remote engine building prompts from the local GGUF's vocabulary."""
    remote = RemoteEngine(proxy.url, notify=lambda _line: None, environ={})
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


def test_probe_sees_llama_server_and_needs_no_local_model(engine: RemoteEngine) -> None:
    assert engine.profile is not None and engine.profile.kind == "llama-server"
    assert engine.profile.takes_ids and engine.info is not None and engine.info.remote
    assert engine.info.name == ALIAS and engine.info.n_ctx == LLAMA_SERVER_CTX
    assert engine.info.template == "openchat"
    assert "token ids built with the server's tokenizer" in engine.info.gpu_note


@pytest.mark.parametrize("source", ["server tokenizer", "local vocabulary"])
@pytest.mark.parametrize(("turns", "mode", "ids"), [
    (("Hello",), "auto", HELLO_IDS),
    (("Hello", "Hi", "How are you today?"), "auto", MULTI_TURN_IDS),
    (("Implement quicksort using C++",), "code", CODE_IDS),
])
def test_model_card_ids_go_over_the_wire(engine: RemoteEngine, local_vocab_engine: RemoteEngine,
                                         proxy: FaultProxy, source: str,
                                         turns: tuple[str, ...], mode: TemplateMode,
                                         ids: list[int]) -> None:
    remote = engine if source == "server tokenizer" else local_vocab_engine
    pieces = list(remote.generate(request(*turns, mode=mode)))
    assert proxy.requests[-1]["prompt"] == ids
    assert remote.last_stats.prompt_tokens == len(ids)
    assert remote.last_stats.finish_reason in ("stop", "length") and len(pieces) <= 3


def test_typed_control_strings_stay_text_as_in_the_local_engine(
        engine: RemoteEngine, proxy: FaultProxy, starling_f16_gguf: Path) -> None:
    chat = request("Type <|end_of_turn|> and <s> here", "Sure: <|end_of_turn|>", "Again?")
    chat = ChatRequest(messages=(ChatMessage("system", "Be terse."), *chat.messages),
                       sampling=chat.sampling)
    local = ProcessEngine.preview_only(
        EngineOptions(model_path=str(starling_f16_gguf), n_ctx=LLAMA_SERVER_CTX), chat)
    assert engine.preview(chat) == local
    list(engine.generate(chat))
    assert proxy.requests[-1]["prompt"] == list(local.token_ids)
    assert list(local.token_ids).count(32000) == 4  # only the template's end-of-turn tokens


def test_replies_and_saved_text_are_the_local_engines(engine: RemoteEngine,
                                                     starling_f16_gguf: Path) -> None:
    """OpenChat writes the space before the reply: neither engine keeps it in the text."""
    local = ProcessEngine()
    local.load(EngineOptions(model_path=str(starling_f16_gguf), n_ctx=LLAMA_SERVER_CTX,
                             flash_attn=False, state_cache=False, speculative="off"))
    try:
        turns: list[str] = []
        for question in ("Hello", "How are you today?"):
            turns.append(question)
            chat = request(*turns, max_tokens=8)
            remote_reply = "".join(engine.generate(chat))
            assert remote_reply == "".join(local.generate(chat)) and remote_reply.strip()
            turns.append(remote_reply)
    finally:
        local.close()


def test_reply_figures_come_from_the_servers_timings(engine: RemoteEngine) -> None:
    pieces = list(engine.generate(request("Hello", max_tokens=4)))
    stats, timings = engine.last_stats, engine.server_figures["timings"]
    assert stats.completion_tokens == timings["predicted_n"] >= len(pieces) > 0
    assert stats.evaluated_tokens == timings["prompt_n"]
    assert stats.cached_tokens + stats.evaluated_tokens == stats.prompt_tokens == len(HELLO_IDS)
    assert stats.ttft_s > 0


def test_follow_ups_reuse_the_servers_cache(engine: RemoteEngine) -> None:
    turns: list[str] = []
    previous = 0
    for question in ("Hello", "Tell me more.", "And then?"):
        turns.append(question)
        reply = "".join(engine.generate(request(*turns, max_tokens=6)))
        stats = engine.last_stats
        if previous:  # the earlier turns' prompt is in the server's KV cache
            assert stats.cached_tokens >= previous - 1
            assert stats.evaluated_tokens == stats.prompt_tokens - stats.cached_tokens
        previous = stats.prompt_tokens
        turns.append(reply)


def test_a_dropped_connection_mid_reply_keeps_the_text(engine: RemoteEngine, proxy: FaultProxy,
                                                       notes: list[str]) -> None:
    proxy.fault = Fault("cut", after=2)
    pieces = list(engine.generate(request("Hello", max_tokens=8)))
    assert len(pieces) == 2 and engine.last_stats.finish_reason == "incomplete"
    assert "partial reply is kept" in notes[-1]


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


def test_a_new_reply_ends_an_unread_earlier_one(engine: RemoteEngine) -> None:
    earlier = engine.generate(request("Hello", max_tokens=8))
    first = next(earlier)
    later = list(engine.generate(request("Hello", max_tokens=2)))
    assert first and later and engine.last_stats.finish_reason in ("stop", "length")
    assert list(earlier) == []  # its stream was closed: it ends, nothing more is read


def test_another_model_on_the_server_is_refused(server: RunningServer,
                                                smollm2_gguf: Path) -> None:
    remote = RemoteEngine(server.url, notify=lambda _line: None, environ={})
    with pytest.raises(EngineError, match="tokenizes the prompt differently"):
        remote.load(EngineOptions(model_path=str(smollm2_gguf)))
    remote.close()
