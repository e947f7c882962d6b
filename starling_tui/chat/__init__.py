"""The chat core: one conversation flow shared by the CLI and the app (no Textual here).

- :class:`ChatCore` (:mod:`.core`): conversation → active path → request, sampling layering,
  preview, send / start / regenerate / edit-and-resend, branch switching, export.
- :class:`PendingReply` / :class:`ReplyResult` (:mod:`.reply`): stream-and-save of one reply.
- :mod:`.sampling`: settings < per-conversation overrides (only what the user changed).
- :mod:`.path`: stored messages → the engine's :class:`~starling_tui.engine.base.ChatRequest`.
- :mod:`.export`: the one Markdown export.

Layering: ``ui → chat → engine | history | prompt | config | models``; nothing below imports
this package.
"""

from starling_tui.chat.core import ChatCore
from starling_tui.chat.reply import PendingReply, ReplyResult

__all__ = ["ChatCore", "PendingReply", "ReplyResult"]
