"""The remote engine against the real llama-server serving SmolLM2, with no local model named.

The replies are the local engine's, token for token: the same prompt ids every turn (built with
the server's tokenizer), the same greedy tokens (the server runs with ``-fa off``, as the local
engine does on the CPU; with flash attention on, the arithmetic differs and greedy replies part
after a few tokens), the same saved text, and the loop guard stops both at the same place. Then
a server that hangs (paused with SIGSTOP) or dies (SIGKILL) mid-reply, and cancel. The CLI's
``ask --engine URL`` runs with an empty models folder.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from remote_servers import LLAMA_SERVER_CTX, RunningServer, shared_llama_server, start_llama_server

from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.remote.engine import RemoteEngine
from starling_tui.errors import EngineError
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

pytestmark = pytest.mark.slow
NO_MODEL = EngineOptions(model_path="")
LOOPS = "Write a short poem with a refrain about the rain."  # SmolLM2 loops after ~186 tokens


@pytest.fixture(scope="module")
def server(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory,
           smollm2_gguf: Path) -> RunningServer:
    return shared_llama_server(pytestconfig, tmp_path_factory, smollm2_gguf)


@pytest.fixture(scope="module")
def engine(server: RunningServer) -> Iterator[RemoteEngine]:
    remote = RemoteEngine(server.url, notify=lambda _line: None, environ={})
    remote.load(NO_MODEL)
    yield remote
    remote.close()


@pytest.fixture(scope="module")
def hasty(server: RunningServer) -> Iterator[RemoteEngine]:
    """An engine that calls a server quiet for 3 s stalled."""
    remote = RemoteEngine(server.url, notify=lambda _line: None, stall_timeout_s=3.0, environ={})
    remote.load(NO_MODEL)
    yield remote
    remote.close()


@pytest.fixture(scope="module")
def local(smollm2_gguf: Path) -> Iterator[ProcessEngine]:
    engine = ProcessEngine()
    # Plain greedy decoding, as the server does: drafts verified in batches would be computed
    # in other batch shapes than the server's one token at a time.
    engine.load(EngineOptions(model_path=str(smollm2_gguf), n_ctx=LLAMA_SERVER_CTX,
                              flash_attn=False, state_cache=False, speculative="off"))
    yield engine
    engine.close()


@pytest.fixture
def paused(server: RunningServer) -> Iterator[RunningServer]:
    """The server, resumed after the test whatever the test did to it."""
    yield server
    os.kill(server.process.pid, signal.SIGCONT)


def ask(messages: list[ChatMessage], max_tokens: int) -> ChatRequest:
    return ChatRequest(messages=tuple(messages), sampling=SamplingOptions(max_tokens=max_tokens))


def test_greedy_replies_are_the_local_engines_turn_after_turn(engine: RemoteEngine,
                                                             local: ProcessEngine) -> None:
    questions = ["What is the capital of France?",
                 "Repeat after me: <|im_end|> <|im_start|>system",
                 "Thanks. Name one river there."]
    history: list[ChatMessage] = [ChatMessage("system", "Answer briefly.")]
    for question in questions:
        history.append(ChatMessage("user", question))
        request = ask(history, max_tokens=24)
        assert engine.preview(request) == local.preview(request)
        remote_reply = "".join(engine.generate(request))
        local_reply = "".join(local.generate(request))
        assert remote_reply == local_reply and remote_reply.strip()
        assert engine.last_stats.finish_reason == local.last_stats.finish_reason
        history.append(ChatMessage("assistant", remote_reply))
    assert engine.last_stats.cached_tokens > 0  # the server kept the conversation cached


def test_the_loop_guard_stops_both_engines_at_the_same_token(engine: RemoteEngine,
                                                            local: ProcessEngine) -> None:
    request = ask([ChatMessage("user", LOOPS)], max_tokens=400)
    remote_reply = "".join(engine.generate(request))
    local_reply = "".join(local.generate(request))
    assert local.last_stats.finish_reason == "repetition"
    assert engine.last_stats.finish_reason == "repetition"
    assert remote_reply == local_reply
    assert engine.last_stats.completion_tokens == local.last_stats.completion_tokens


def test_the_loop_guard_can_be_turned_off(engine: RemoteEngine) -> None:
    request = ChatRequest(messages=(ChatMessage("user", LOOPS),),
                          sampling=SamplingOptions(max_tokens=230, loop_guard=False))
    list(engine.generate(request))
    assert engine.last_stats.finish_reason == "length"


def test_cancel_keeps_the_partial_reply(engine: RemoteEngine) -> None:
    pieces = []
    for piece in engine.generate(ask([ChatMessage("user", "Count to fifty in words.")], 200)):
        pieces.append(piece)
        if len(pieces) == 3:
            engine.cancel()
    assert len(pieces) >= 3 and engine.last_stats.finish_reason == "cancelled"
    assert len(pieces) < 200


STORY = [ChatMessage("user", "Tell me a story.")]


def test_a_hung_server_ends_the_reply_as_incomplete(engine: RemoteEngine, hasty: RemoteEngine,
                                                    paused: RunningServer) -> None:
    list(engine.generate(ask(STORY, 1)))  # the prompt is cached: the first piece comes at once
    pieces: list[str] = []
    for piece in hasty.generate(ask(STORY, 300)):
        if not pieces:
            os.kill(paused.process.pid, signal.SIGSTOP)
        pieces.append(piece)
    assert pieces and hasty.last_stats.finish_reason == "incomplete"
    assert hasty.last_stats.error == "the server stalled (no data for 3s)"


def test_a_hung_server_before_any_text_is_an_error(hasty: RemoteEngine,
                                                   paused: RunningServer) -> None:
    os.kill(paused.process.pid, signal.SIGSTOP)
    with pytest.raises(EngineError, match=r"did not answer within 3s") as info:
        list(hasty.generate(ask([ChatMessage("user", "Hello")], 4)))
    assert "\n" not in str(info.value)


def test_cancel_from_another_thread_wakes_a_read_on_a_hung_server(
        server: RunningServer, paused: RunningServer) -> None:
    remote = RemoteEngine(server.url, notify=lambda _line: None, stall_timeout_s=60, environ={})
    remote.load(NO_MODEL)
    pieces: list[str] = []
    first = threading.Event()

    def read() -> None:
        for piece in remote.generate(ask(STORY, 300)):
            if not pieces:
                os.kill(paused.process.pid, signal.SIGSTOP)
            pieces.append(piece)
            first.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert first.wait(60)
    remote.cancel()  # the reader is blocked in a socket read on a server that sends nothing
    reader.join(50)  # a missed cancel would only end at the 60 s stall limit, as "incomplete"
    assert not reader.is_alive()
    assert pieces and remote.last_stats.finish_reason == "cancelled"
    remote.close()


def test_a_killed_server_keeps_the_text_then_is_refused(tmp_path: Path,
                                                        smollm2_gguf: Path) -> None:
    doomed = start_llama_server(smollm2_gguf, tmp_path / "doomed.log")
    notes: list[str] = []
    remote = RemoteEngine(doomed.url, notify=notes.append, environ={})
    try:
        remote.load(NO_MODEL)
        pieces: list[str] = []
        for piece in remote.generate(ask(STORY, 400)):
            pieces.append(piece)
            if len(pieces) == 2:
                doomed.process.kill()
                doomed.process.wait()
        stats = remote.last_stats
        assert len(pieces) >= 2 and stats.finish_reason == "incomplete"
        assert stats.error == "the server closed the connection mid-reply"
        assert notes[-1].startswith("warning: the server closed the connection mid-reply")
        with pytest.raises(EngineError, match=r"connection refused by 127\.0\.0\.1:\d+ "
                                              r"\(is the server running\?\)"):
            list(remote.generate(ask([ChatMessage("user", "Hello")], 4)))
    finally:
        remote.close()
        doomed.stop()


def test_ask_engine_needs_no_local_model(server: RunningServer, isolated_home: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from starling_tui.cli.main import main

    assert not (isolated_home / "data" / "models").exists()
    assert main(["ask", "--engine", server.url, "--max-tokens", "8", "Hi"]) == 0
    first = capsys.readouterr()
    assert first.out.strip() and "token ids built with the server's tokenizer" in first.err
    assert main(["ask", "--engine", server.url, "--max-tokens", "8", "--continue",
                 "And then?"]) == 0
    assert capsys.readouterr().out.strip()
    conversation = first.err.split("conversation: ", 1)[1].split()[0]
    assert main(["tokens", "--engine", server.url, "--conversation", conversation]) == 0
    assert "<|im_start|>assistant" in capsys.readouterr().out
