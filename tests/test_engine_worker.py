"""The worker's request loop (in a thread, with a scripted session): one reply per request."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest

from starling_tui.engine.base import EngineOptions, GenerationStats, PromptPreview
from starling_tui.engine.worker.main import serve
from starling_tui.types import ChatMessage, ChatRequest


class SavingFails:
    """A session whose state save and next-turn prefill raise after every reply."""

    def __init__(self, options: EngineOptions, *, vocab_only: bool = False,
                 faults: Any = None) -> None:
        self.options = options

    def info(self) -> str:
        return "info"

    def generate(self, request: ChatRequest, emit: Any, cancelled: Any,
                 live: Any = None) -> GenerationStats:
        emit("hello")
        return GenerationStats(finish_reason="stop", completion_tokens=1)

    def after_reply(self, request: ChatRequest, stats: GenerationStats) -> None:
        raise OSError("disk full")

    def prefill_next_turn(self, interrupted: Any) -> int:
        raise RuntimeError("prefill broke")

    def preview(self, request: ChatRequest) -> PromptPreview:
        return PromptPreview((1, 2), "prompt", 0)

    def close(self) -> None:
        pass


def test_failed_state_save_and_prefill_only_log(monkeypatch: pytest.MonkeyPatch) -> None:
    parent, child = multiprocessing.Pipe(duplex=True)
    flag = multiprocessing.RawValue("b", 0)
    worker = threading.Thread(target=serve, args=(child, flag, None, None, SavingFails),
                              daemon=True)
    # serve() ignores SIGINT, which Python allows only on the main thread: skip that here.
    monkeypatch.setattr("signal.signal", lambda *_: None)
    worker.start()
    request = ChatRequest((ChatMessage("user", "hi"),))
    logs: list[str] = []

    def answer() -> tuple[Any, ...]:
        while True:
            assert parent.poll(10), "the worker did not answer"
            reply: tuple[Any, ...] = parent.recv()
            if reply[0] != "log":
                return reply
            logs.append(reply[2])

    parent.send(("load", EngineOptions(model_path="x.gguf"), False))
    assert answer() == ("ok", "info")
    parent.send(("generate", request, 1))
    assert answer() == ("piece", "hello")
    assert answer()[0] == "ok"
    parent.send(("preview", request))
    assert answer() == ("ok", PromptPreview((1, 2), "prompt", 0))
    assert logs == ["could not save the conversation state: disk full",
                    "could not prepare the next turn: prefill broke"]
    parent.send(("close",))
    worker.join(10)
    assert not worker.is_alive()
