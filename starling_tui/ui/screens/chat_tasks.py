"""The chat screen's blocking work, each piece in a Textual thread worker.

Every worker here only calls the engine or the store and posts typed messages
(:mod:`starling_tui.ui.messages`); errors are not caught here but in one place,
:meth:`ChatTasks.on_worker_state_changed`, which shows them in an error dialog.
"""

from __future__ import annotations

from textual import work
from textual.worker import Worker, WorkerState

from starling_tui.engine.base import EngineCrashed, EngineError, TemplateMode
from starling_tui.errors import UserError
from starling_tui.history.records import Conversation, Message
from starling_tui.ui import conversation_data as data
from starling_tui.ui import reply_worker
from starling_tui.ui.messages import (
    ConversationDeleted,
    ConversationLoaded,
    ModelLoaded,
    ModelLoadFailed,
    Notice,
    OlderLoaded,
    PreviewReady,
    SidebarLoaded,
    UserMessageAdded,
)
from starling_tui.ui.screens.chat_state import REPLY_GROUP, ChatState
from starling_tui.ui.screens.error import ErrorScreen
from starling_tui.ui.widgets.status_line import StatusLine


class ChatTasks(ChatState):
    """The workers that change the chat screen's state, and where their errors end up."""

    # -- the one place worker errors end up ---------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Show a failed worker's error in a dialog; the app stays usable."""
        if event.state != WorkerState.ERROR:
            return
        self._close_loading()
        error = event.worker.error
        if isinstance(error, EngineCrashed):
            self.engine_crashed(error)
        elif isinstance(error, EngineError):
            self.app.push_screen(ErrorScreen("Engine error", str(error)))
        elif isinstance(error, UserError):
            self.app.push_screen(ErrorScreen("Error", str(error)))
        else:
            message = f"{type(error).__name__}: {error}"
            self.app.push_screen(ErrorScreen("Unexpected error", message))

    # -- history ------------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="sidebar", exclusive=True)
    def refresh_sidebar(self, query: str | None = None) -> None:
        """Reload the sidebar (a listing, or search hits for the current search text)."""
        if query is None:
            query = self.search_query
        self.post_message(SidebarLoaded(data.sidebar_rows(self.services.store, query), query))

    def _post_conversation(self, conversation: Conversation, focus_id: int | None = None) -> None:
        store = self.services.store
        entries, more_above = data.load_page(store, conversation.id)
        prompts = reply_worker.recall_prompts(store, conversation.id)
        used = data.context_in_use(store, conversation.id)
        self.post_message(
            ConversationLoaded(conversation, entries, more_above, prompts, focus_id, used)
        )

    @work(thread=True, exit_on_error=False, group="open", exclusive=True)
    def open_conversation(self, conversation_id: str) -> None:
        """Show a conversation (its newest page)."""
        self._post_conversation(self.services.store.get_conversation(conversation_id))

    @work(thread=True, exit_on_error=False, group="open", exclusive=True)
    def open_latest(self) -> None:
        """Show the most recent conversation, if there is one."""
        conversation = self.services.store.latest_conversation()
        if conversation is not None:
            self._post_conversation(conversation)

    @work(thread=True, exit_on_error=False, group="older")
    def load_older(self, conversation_id: str, before_id: int) -> None:
        """Load the page above ``before_id``."""
        entries, more_above = data.load_page(self.services.store, conversation_id, before_id)
        self.post_message(OlderLoaded(conversation_id, entries, more_above))

    @work(thread=True, exit_on_error=False, group="history")
    def update_conversation(self, conversation_id: str, **changes: object) -> None:
        """Change a conversation's title or settings, then refresh the views."""
        conversation = self.services.store.update_conversation(conversation_id, **changes)
        if conversation_id == self.conversation_id:
            self._post_conversation(conversation)
        query = self.search_query
        self.post_message(SidebarLoaded(data.sidebar_rows(self.services.store, query), query))

    @work(thread=True, exit_on_error=False, group="history")
    def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation; if it was shown, start a new chat."""
        self.services.store.delete_conversation(conversation_id)
        self.post_message(ConversationDeleted(conversation_id))
        query = self.search_query
        self.post_message(SidebarLoaded(data.sidebar_rows(self.services.store, query), query))

    @work(thread=True, exit_on_error=False, group="history")
    def export(self, conversation_id: str) -> None:
        """Write the conversation to a Markdown file and say where."""
        path = data.export_markdown(self.services.store, conversation_id, self.services.export_dir)
        self.post_message(Notice(f"Exported to {path}"))

    @work(thread=True, exit_on_error=False, group="history")
    def switch_branch(self, message_id: int, step: int) -> None:
        """Show the sibling ``step`` away from ``message_id`` (and its newest continuation)."""
        store = self.services.store
        siblings = store.siblings(message_id)
        ids = [m.id for m in siblings]
        target = siblings[(ids.index(message_id) + step) % len(siblings)]
        store.switch_branch(target.id)
        self._post_conversation(store.get_conversation(target.conversation_id), target.id)

    # -- engine -------------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="model", exclusive=True)
    def load_model(self, path: str) -> None:
        """Load a model; failures become a dialog (the previous state stays usable)."""
        self.app.call_from_thread(self.show_loading, path)
        try:
            info = self.services.engine.load(self.services.options_for(path))
        except (EngineError, UserError, OSError) as error:
            self.post_message(ModelLoadFailed(path, str(error)))
            return
        self.post_message(ModelLoaded(info))

    @work(thread=True, exit_on_error=False, group=REPLY_GROUP)
    def generate(
        self,
        text: str | None,
        edit_of: int | None = None,
        regenerate: bool = False,
        after: int | None = None,
    ) -> None:
        """Save the user's message (new, edited as a branch, or none to regenerate), then reply.

        ``after`` is the message shown last on screen: the new message's parent.
        """
        if regenerate:
            assert self.conversation_id is not None
            parent = self._regenerate_parent(self.conversation_id)
        else:
            assert text is not None
            parent = self._save_user_message(text, edit_of, after)
        reply_worker.stream_reply(self.services, parent.conversation_id, parent, self.post_message)

    def _save_user_message(self, text: str, edit_of: int | None, after: int | None) -> Message:
        store = self.services.store
        if edit_of is not None:
            message = store.edit_message(edit_of, text)
            self._post_conversation(store.get_conversation(message.conversation_id))
            return message
        conversation_id = self.conversation_id
        if conversation_id is None:
            model = self.model_info.name if self.model_info else ""
            conversation_id = store.create_conversation(
                model=model, mode=self.conversation_mode
            ).id
        message = (
            store.add_message(conversation_id, "user", text, parent_id=after)
            if after is not None and self.conversation_id is not None
            else store.add_message(conversation_id, "user", text)
        )
        conversation = store.get_conversation(conversation_id)
        self.post_message(UserMessageAdded(conversation, data.entry_for(store, message)))
        return message

    def _regenerate_parent(self, conversation_id: str) -> Message:
        """The last user message, to answer again; the view is reloaded without the old reply."""
        store = self.services.store
        path = store.active_path(conversation_id)
        users = [i for i, m in enumerate(path) if m.role == "user"]
        if not users:
            raise UserError("nothing to regenerate: send a message first")
        index = users[-1]
        # show the branch up to that message: the page above the old reply, if there is one
        below = path[index + 1].id if index + 1 < len(path) else None
        entries, more_above = data.load_page(store, conversation_id, below)
        conversation = store.get_conversation(conversation_id)
        prompts = [m.content for m in path if m.role == "user"]
        self.post_message(ConversationLoaded(conversation, entries, more_above, prompts))
        return path[index]

    @work(thread=True, exit_on_error=False, group="preview", exclusive=True)
    def preview(self, text: str, mode: TemplateMode) -> None:
        """Compute the exact prompt of the next request for the inspector."""
        request = reply_worker.next_request(self.services, self.conversation_id, text, mode)
        self.post_message(PreviewReady(self.services.engine.preview(request)))

    def engine_crashed(self, error: EngineCrashed) -> None:
        """The engine process died: forget the model, explain, offer to reload it."""
        path = self.model_info.path if self.model_info else ""
        self.model_info = None
        self.query_one(StatusLine).info = None
        self._close_loading()

        def reload(_: None) -> None:
            if path:
                self.load_model(path)

        self.app.push_screen(
            ErrorScreen("The engine crashed", f"{error} — the model will be reloaded."), reload
        )
