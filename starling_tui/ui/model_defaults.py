"""What a loaded model does on its own: the system prompt its chat template adds by itself.

Some templates (SmolLM2's ChatML, for one) write a system turn when the conversation has none;
an empty system-prompt box in the settings dialogs shows that text so the user knows what the
model gets. It is read from two prompt previews with marker texts, so it is exactly what the
engine's own template renders (blocking: call it from a worker, when no reply is streaming).
"""

from __future__ import annotations

from collections.abc import Callable

from starling_tui.engine.base import PromptPreview
from starling_tui.types import ChatMessage, ChatRequest

SYSTEM_MARK = "QQSYSTEMQQ"
USER_MARK = "QQUSERQQ"


def template_system_text(plain: str, framed: str) -> str:
    """The system text a template adds by itself, "" when it adds none.

    ``plain`` is the rendering of a user turn (``USER_MARK``) alone; ``framed`` of a system turn
    (``SYSTEM_MARK``) then the same user turn. What ``plain`` holds before the user's text,
    framed the way ``framed`` frames a system turn, is the template's own system prompt.
    """
    if SYSTEM_MARK not in framed or USER_MARK not in plain:
        return ""
    head, rest = framed.split(SYSTEM_MARK, 1)
    between = rest.split(USER_MARK, 1)[0]  # the system turn's end and the user turn's start
    before_user = plain.split(USER_MARK, 1)[0]
    if len(before_user) <= len(head) + len(between):
        return ""
    if not (before_user.startswith(head) and before_user.endswith(between)):
        return ""
    return before_user[len(head):len(before_user) - len(between)].strip()


def default_system_prompt(preview: Callable[[ChatRequest], PromptPreview]) -> str:
    """The loaded model's own system prompt ("" when its template adds none, or the engine
    cannot render the probes)."""
    user = ChatMessage("user", USER_MARK)
    try:
        plain = preview(ChatRequest((user,))).rendered
        framed = preview(ChatRequest((ChatMessage("system", SYSTEM_MARK), user))).rendered
    except Exception:  # a placeholder is no reason to fail a model load: a broken preview
        return ""      # is reported where it matters (F7, sending)
    return template_system_text(plain, framed)


def system_placeholder(default: str) -> str:
    """What an empty system-prompt box says: the model's own default, or that there is none."""
    if default:
        return f"empty: the model's default: {default}"
    return "empty: none (the model has no default one)"
