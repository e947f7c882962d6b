"""One conversation turn, shared by ``ask``: save the prompt, stream and save the reply.

Kept apart from argument parsing so tests can drive it with a ``FakeEngine`` and a store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TextIO

from starling_tui.config import Settings
from starling_tui.engine.base import (
    ChatMessage,
    ChatRequest,
    Engine,
    GenerationStats,
    Role,
)
from starling_tui.history.records import Conversation, Message
from starling_tui.history.store import HistoryStore
from starling_tui.models import ModelFile
from starling_tui.text import checked_text

ROLES: dict[str, Role] = {"system": "system", "user": "user", "assistant": "assistant"}


def chat_messages(system_prompt: str, path: list[Message]) -> list[ChatMessage]:
    """The engine's view of a conversation: its system prompt, then the non-empty messages."""
    messages = [ChatMessage("system", system_prompt)] if system_prompt else []
    for message in path:
        role = ROLES.get(message.role)
        if message.content and role is not None:
            messages.append(ChatMessage(role, message.content))
    return messages


class Turn:
    """Runs a turn of ``ask`` against a store and a loaded engine."""

    def __init__(
        self, store: HistoryStore, engine: Engine, settings: Settings, model: ModelFile
    ) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.model = model

    def prepare(
        self, conversation: Conversation | None, system: str | None, code: bool
    ) -> Conversation:
        """Create the conversation, or update a continued one's model/mode/system prompt."""
        from starling_tui.factory import sampling_options

        sampling = asdict(sampling_options(self.settings))
        if conversation is None:
            return self.store.create_conversation(
                model=self.model.name,
                mode="code" if code else "auto",
                system_prompt=self.settings.system_prompt if system is None else system,
                sampling=sampling,
            )
        changes: dict[str, object] = {"model": self.model.name, "sampling": sampling}
        if code:
            changes["mode"] = "code"
        if system is not None:
            changes["system_prompt"] = system
        return self.store.update_conversation(conversation.id, **changes)

    def _save_prompt(self, conversation: Conversation, text: str) -> tuple[Message, list[Message]]:
        """Save the user message under the history the engine will see; return both."""
        history = self.store.active_path(conversation.id)
        # Explicit parents: another process may add to this conversation meanwhile, and the
        # saved tree must match what the engine is sent.
        user = self.store.add_message(
            conversation.id, "user", text, parent_id=history[-1].id if history else None
        )
        return user, history

    def run(
        self,
        conversation: Conversation | None,
        text: str,
        *,
        system: str | None = None,
        code: bool = False,
        out: TextIO,
        on_conversation: Callable[[str], None] = lambda _cid: None,
    ) -> GenerationStats:
        """Save ``text``, stream the reply to ``out`` while saving it; return its figures.

        Nothing is saved unless ``text`` (and ``system``) are valid UTF-8, and a conversation
        created here is removed again if its first message cannot be saved.
        """
        from starling_tui.factory import sampling_options

        checked_text(text, "the prompt")
        if system is not None:
            checked_text(system, "the system prompt")
        is_new = conversation is None
        conversation = self.prepare(conversation, system, code)
        try:
            user, history = self._save_prompt(conversation, text)
        except BaseException:
            if is_new:
                self.store.delete_conversation(conversation.id)
            raise
        on_conversation(conversation.id)
        request = ChatRequest(
            messages=(
                *chat_messages(conversation.system_prompt, history),
                ChatMessage("user", text),
            ),
            mode="code" if conversation.mode == "code" else "auto",
            sampling=sampling_options(self.settings),
            conversation_id=conversation.id,
        )
        writer = self.store.start_reply(conversation.id, parent_id=user.id)
        pieces = self.engine.generate(request)
        try:
            for piece in pieces:
                out.write(piece)
                out.flush()
                writer.append(piece)
        except (KeyboardInterrupt, BrokenPipeError):
            # Ctrl-C, or the reader of stdout went away (`| head`): the reply was cut short.
            self.engine.cancel()
            writer.finish("cancelled", self.engine.last_stats)
            raise
        except Exception as error:
            stats = self.engine.last_stats
            stats.error = stats.error or str(error) or type(error).__name__
            writer.finish("error", stats)
            raise
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()
        stats = self.engine.last_stats
        writer.finish(stats.finish_reason, stats)
        if not writer.text.endswith("\n"):
            out.write("\n")
            out.flush()
        return stats
