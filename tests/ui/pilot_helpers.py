"""Helpers shared by the Pilot tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot

from starling_tui.history.store import HistoryStore
from starling_tui.ui.screens.chat import ChatScreen
from starling_tui.ui.widgets.chat_log import ChatLog
from starling_tui.ui.widgets.message_view import MessageView

SIZE = (100, 32)  # terminal size of every Pilot and snapshot test


async def wait_for(pilot: Pilot[None], condition: Callable[[], object], timeout: float = 30.0,
                   what: str = "condition") -> None:
    """Let the app run until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def chat(pilot: Pilot[None]) -> ChatScreen:
    """The chat screen (under any dialog)."""
    return next(s for s in pilot.app.screen_stack if isinstance(s, ChatScreen))


def shown(pilot: Pilot[None]) -> list[tuple[str, str]]:
    """(role, text) of the mounted messages."""
    return [(v.role, v.content) for v in chat(pilot).query_one(ChatLog).views()]


def views(pilot: Pilot[None]) -> list[MessageView]:
    """The mounted message widgets."""
    return chat(pilot).query_one(ChatLog).views()


async def ready(pilot: Pilot[None], timeout: float = 30.0) -> ChatScreen:
    """Wait until the model is loaded and the chat screen is in front."""
    await wait_for(pilot, lambda: chat(pilot).controller.state.model_info is not None, timeout,
                   "model load")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), what="chat screen")
    return chat(pilot)


async def send(pilot: Pilot[None], text: str, timeout: float = 30.0) -> None:
    """Type ``text`` in the prompt box, press Enter and wait for the reply to finish."""
    screen = chat(pilot)
    screen.query_one("#prompt").focus()
    before = len(screen.services.store.list_conversations())
    count = len(views(pilot))
    await pilot.press(*typed_keys(text), "enter")
    controller = screen.controller
    await wait_for(pilot, lambda: len(views(pilot)) >= count + 2 and not controller.generating
                   and controller.state.reply_id is None, timeout, what=f"reply to {text!r}")
    # The reply went into the shown conversation, which is saved: a new chat adds exactly one.
    saved = {c.id for c in screen.services.store.list_conversations()}
    assert controller.state.conversation_id in saved and len(saved) - before in (0, 1)


def typed_keys(text: str) -> list[str]:
    """The keys that type ``text`` in the prompt box (Ctrl+J for each line break)."""
    return ["ctrl+j" if c == "\n" else c for c in text]


def type_ahead(pilot: Pilot[None], *keys: str) -> None:
    """Queue key presses without letting the app run in between, as a fast typist's keys
    arrive in one terminal read (``pilot.press`` waits for each key to be handled)."""
    from textual import events

    for key in keys:
        character = key if len(key) == 1 else None
        pilot.app.post_message(events.Key(key, character))


def seed(store: HistoryStore, title_words: list[str]) -> list[str]:
    """Conversations with one exchange each; returns their ids, oldest first."""
    ids = []
    for word in title_words:
        conv = store.create_conversation()
        store.add_message(conv.id, "user", f"tell me about {word}")
        store.add_message(conv.id, "assistant", f"{word} are interesting", finish_reason="stop")
        ids.append(conv.id)
    return ids


def screen_text(pilot: Pilot[None]) -> str:
    """What the terminal shows now (the top screen, dialogs over what lies under them)."""
    strips = pilot.app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)
