"""The chat core: one conversation flow shared by the CLI and the app (no Textual here).

- :class:`ChatCore` (:mod:`.core`): conversation → active path → request, sampling layering,
  preview, send / start / regenerate / edit-and-resend, branch switching, export.
- :class:`PendingReply` / :class:`ReplyResult` (:mod:`.reply`): stream-and-save of one reply.
- :mod:`.sampling`: settings < per-conversation overrides (only what the user changed).
- :mod:`.path`: stored messages → the engine's :class:`~starling_tui.types.ChatRequest`.
- :mod:`.export`: the one Markdown export.

Layering: ``ui → chat → engine | history | prompt | config | models``; nothing below imports
this package.

Porting the app (what replaces what; every call blocks, run it in a thread worker):

- ``ChatCore(services.store, services.engine, settings)``; when the settings screen changes
  sampling, ``core.settings = core.settings.replace(temperature=…)``.
- first message of a new chat: ``core.start(text, mode=…)`` (model name from
  ``engine.info``, system prompt from the settings); later ones: ``core.send(cid, text,
  after=id_shown_last)``. Both return a :class:`PendingReply`: ``pending.begin()`` gives the
  reply's row (``ReplyStarted``), ``pending.run(on_piece=batcher.add)`` streams and saves it
  and returns a :class:`ReplyResult` (``ReplyFinished``); an engine error is saved ``error``
  and re-raised; ``core.cancel()`` (Escape) ends it ``cancelled``.
- regenerate: ``core.regenerate(cid)`` (``pending.parent`` is the user message answered);
  edit: ``core.edit_and_resend(message_id, text)``; branches: ``core.switch_branch(id, step)``.
- F7: ``core.preview(cid, unsent_text, mode=…)`` (``cid`` None for a new chat).
- F8: ``core.export_to_folder(cid, services.export_dir)``.
- conversation settings form: ``core.configure(cid, mode=…, system_prompt=…,
  sampling_changes=form_values, replace_sampling=True)``; ``conversation.sampling`` holds only
  the overrides, ``core.sampling_for(conversation)`` the values a reply will use.
"""

from starling_tui.chat.core import ChatCore
from starling_tui.chat.reply import PendingReply, ReplyResult

__all__ = ["ChatCore", "PendingReply", "ReplyResult"]
