"""The chat screen's user actions (each bound to a key and listed in the command palette)."""

from __future__ import annotations

from starling_tui.ui.focus import focus_now
from starling_tui.ui.screens.chat_dialogs import ChatDialogs
from starling_tui.ui.widgets.chat_log import ChatLog
from starling_tui.ui.widgets.message_view import MessageView
from starling_tui.ui.widgets.prompt_input import PromptInput
from starling_tui.ui.widgets.sidebar import Sidebar
from starling_tui.ui.widgets.status_line import StatusLine

EDIT_BANNER = "Editing a message: Enter sends it as a new branch, Esc cancels"


class ChatActions(ChatDialogs):
    """``action_*`` methods of the chat screen."""

    # -- sending ------------------------------------------------------------------------------

    def send(self, text: str) -> None:
        """Send the prompt box's text (as an edit when editing), if a reply can start."""
        if not self._can_generate():
            return
        prompt = self.query_one(PromptInput)
        prompt.remember(text)
        prompt.load_text("")
        edit_of, self.editing_id = self.editing_id, None
        self.show_edit_banner("")
        # The reply answers what the user sees: the last message on screen is its parent, even if
        # another process (``ask --continue``) added messages to this conversation meanwhile.
        shown = self.query_one(ChatLog).last_view()
        self.generate(text, edit_of, after=shown.message_id if shown else None)

    def _can_generate(self) -> bool:
        if self.generating:
            self.notify("A reply is still being generated (esc stops it)", severity="warning")
            return False
        if self.model_info is None:
            self.notify("No model loaded: press ctrl+o to open one", severity="warning")
            return False
        return True

    def action_stop(self) -> None:
        """Stop the reply being generated (it is kept, marked), or cancel an edit."""
        if self.generating:
            self.services.engine.cancel()
        elif self.editing_id is not None:
            self.editing_id = None
            self.show_edit_banner("")
            self.query_one(PromptInput).load_text("")

    def action_regenerate(self) -> None:
        """Answer the last user message again, as a new branch of the reply."""
        if self.conversation_id is None:
            self.notify("Nothing to regenerate yet", severity="warning")
        elif self._can_generate():
            self.generate(None, regenerate=True)

    def action_edit_message(self) -> None:
        """Put the selected (or last) user message in the prompt box to resend as a branch."""
        view = self._target_message("user")
        if view is None:
            self.notify("No message to edit", severity="warning")
            return
        self.editing_id = view.message_id
        self.show_edit_banner(EDIT_BANNER)
        prompt = self.query_one(PromptInput)
        prompt.load_text(view.content)
        prompt.move_cursor(prompt.document.end)
        focus_now(prompt)

    def action_branch(self, step: int) -> None:
        """Show the previous/next sibling branch of the selected (or last branched) message."""
        log = self.query_one(ChatLog)
        view = log.selected()
        if view is None:
            view = next((v for v in reversed(log.views()) if v.branch[1] > 1), None)
        if view is None or view.branch[1] < 2:
            self.notify("This message has no other branches", severity="warning")
            return
        if self.generating:
            return
        self.switch_branch(view.message_id, step)

    def _target_message(self, role: str | None = None) -> MessageView | None:
        """The focused message if it fits ``role``, else the newest one with that role."""
        log = self.query_one(ChatLog)
        view = log.selected()
        if view is not None and (role is None or view.role == role):
            return view
        return log.last_view(role)

    # -- clipboard ----------------------------------------------------------------------------

    def action_copy_message(self) -> None:
        """Copy the selected message (default: the last reply) through OSC 52."""
        view = self._target_message() if self.query_one(ChatLog).selected() else None
        view = view or self._target_message("assistant")
        if view is None or not view.content:
            self.notify("Nothing to copy", severity="warning")
            return
        self.app.copy_to_clipboard(view.content)
        self.notify("Message copied to the clipboard", timeout=2)

    def action_copy_code(self) -> None:
        """Copy the last code block of the selected message (default: the last reply)."""
        view = self._target_message() if self.query_one(ChatLog).selected() else None
        view = view or self._target_message("assistant")
        blocks = view.code_blocks() if view else []
        if not blocks:
            self.notify("No code block in that message", severity="warning")
            return
        self.app.copy_to_clipboard(blocks[-1])
        self.notify("Code block copied to the clipboard", timeout=2)

    # -- conversations ------------------------------------------------------------------------

    async def action_new_chat(self) -> None:
        """Start an empty chat (saved once the first message is sent)."""
        await self.start_new_chat()

    async def start_new_chat(self) -> None:
        """Clear the view for a new conversation."""
        self.conversation_mode = "auto"
        self.set_conversation(None)
        await self.query_one(ChatLog).show([], more_above=False)
        status = self.query_one(StatusLine)
        status.context_used = 0
        prompt = self.query_one(PromptInput)
        focus_now(prompt)

    def action_search(self) -> None:
        """Put the cursor in the sidebar's search box."""
        self.query_one(Sidebar).focus_search()

    def action_export(self) -> None:
        """Export the conversation to a Markdown file."""
        if self.conversation_id is None:
            self.notify("Nothing to export yet", severity="warning")
            return
        self.export(self.conversation_id)

    def action_toggle_code_mode(self) -> None:
        """Switch coding mode (OpenChat ``Code User:``) for this conversation."""
        self.conversation_mode = "auto" if self.conversation_mode == "code" else "code"
        self._show_mode()
        state = "on" if self.conversation_mode == "code" else "off"
        self.notify(f"Coding mode {state}", timeout=2)
        if self.conversation_id is not None:
            self.update_conversation(self.conversation_id, mode=self.conversation_mode)

    def action_inspect_prompt(self) -> None:
        """Show the exact tokens of the next request (with the unsent text as the message)."""
        if self.model_info is None:
            self.notify("No model loaded: press ctrl+o to open one", severity="warning")
            return
        mode = "code" if self.conversation_mode == "code" else "auto"
        self.preview(self.query_one(PromptInput).text, mode)
