"""Reply numbering and cancel: every engine follows the same rule (engine/replies.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from starling_tui.engine.base import Engine, EngineOptions
from starling_tui.engine.fake import FakeEngine
from starling_tui.engine.parent.process import ProcessEngine
from starling_tui.engine.replies import ReplyNumbers
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

LONG = ChatRequest((ChatMessage("user", "Count from one to fifty in words."),),
                   sampling=SamplingOptions(max_tokens=24))


def test_numbers_cancel_what_was_numbered_and_nothing_after() -> None:
    told: list[int] = []
    numbers = ReplyNumbers(on_cancel=told.append)
    first = numbers.next()
    numbers.cancel()
    second = numbers.next()
    assert numbers.cancelled(first) and not numbers.cancelled(second)
    assert numbers.superseded(first) and not numbers.superseded(second)
    third = numbers.next()
    assert numbers.superseded(second) and not numbers.superseded(third)
    numbers.cancel_through(1)  # an older bound never lowers what was told
    assert told == [1, 1]


@pytest.fixture(params=["fake", pytest.param("process", marks=pytest.mark.slow)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "fake":
        fake = FakeEngine([" ".join(f"w{i}" for i in range(40))] * 4)
        fake.load(EngineOptions("fake.gguf"))
        yield fake
        return
    smollm2: Path = request.getfixturevalue("smollm2_gguf")
    real = ProcessEngine()
    real.load(EngineOptions(str(smollm2), n_ctx=512, n_threads=2, state_cache=False))
    try:
        yield real
    finally:
        real.close()


def test_a_cancel_before_the_first_read_stops_that_reply(engine: Engine) -> None:
    stream = engine.generate(LONG)
    engine.cancel()
    assert list(stream) == []
    assert engine.last_stats.finish_reason == "cancelled"


def test_a_reply_requested_after_a_cancel_is_not_stopped_by_it(engine: Engine) -> None:
    engine.cancel()
    pieces = list(engine.generate(LONG))
    assert pieces and engine.last_stats.finish_reason in ("stop", "length")


def test_a_newer_reply_ends_an_unread_older_one(engine: Engine) -> None:
    older = engine.generate(LONG)
    first = next(older)
    newer = list(engine.generate(LONG))
    assert first and newer and engine.last_stats.finish_reason in ("stop", "length")
    assert list(older) == []
