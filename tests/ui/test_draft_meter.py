"""The draft meter's figures and caption, with a scripted preview (one id per word)."""

from __future__ import annotations

from starling_tui.engine.base import PromptPreview
from starling_tui.errors import EngineError
from starling_tui.types import ChatMessage, ChatRequest
from starling_tui.ui.draft_meter import DraftMeter, DraftRoom, describe_room

LIMIT = 100  # the scripted engine refuses longer prompts, as the real one does past the window


def preview(request: ChatRequest) -> PromptPreview:
    """Two framing ids per message, one per word; refused past ``LIMIT``."""
    ids = tuple(range(sum(2 + len(m.content.split()) for m in request.messages)))
    if len(ids) > LIMIT:
        raise EngineError(f"the prompt needs {len(ids)} tokens")
    return PromptPreview(ids, "")


CONVERSATION = ChatRequest((ChatMessage("system", "be brief"), ChatMessage("user", "one two"),
                            ChatMessage("assistant", "three four five")))


def test_the_draft_counts_alone_and_the_room_is_what_the_conversation_leaves() -> None:
    meter = DraftMeter()
    room = meter.measure(preview, CONVERSATION, "a b c", n_ctx=100, reserve=20, policy="shift")
    # budget 80; the conversation with an empty message: 4 + 4 + 5 + 2 = 15 → room 65;
    # system prompt and an empty message alone: 4 + 2 = 6 → longest 74
    assert room == DraftRoom(tokens=3, room=65, longest=74, reserve=20, policy="shift")
    assert describe_room(room) == "3/65 tokens"


def test_past_the_room_older_turns_leave_and_past_the_window_it_is_too_long() -> None:
    meter = DraftMeter()
    over = meter.measure(preview, CONVERSATION, " ".join("w" * 70), n_ctx=100, reserve=20,
                         policy="shift")
    assert over.pushes_out and not over.too_long
    assert describe_room(over) == "70/65 tokens: older turns leave the model's view"
    refused = meter.measure(preview, CONVERSATION, " ".join("w" * 70), n_ctx=100, reserve=20,
                            policy="error")
    assert refused.too_long and describe_room(refused) == "70 tokens: too long, at most 65 fit"
    huge = meter.measure(preview, CONVERSATION, " ".join("w" * 200), n_ctx=100, reserve=20,
                         policy="shift")
    assert huge.tokens is None and describe_room(huge) == "too long: at most 74 tokens fit"


def test_no_draft_no_caption() -> None:
    room = DraftMeter().measure(preview, CONVERSATION, "", n_ctx=100, reserve=20, policy="shift")
    assert room.tokens == 0 and describe_room(room) == "" and describe_room(None) == ""
