"""The chat screen's actions that open a dialog: rename, delete, chat settings, models, settings.

Each runs as a Textual worker (``@work``) so it can await the dialog's answer.
"""

from __future__ import annotations

from textual import work

from starling_tui.ui.screens.chat_tasks import ChatTasks
from starling_tui.ui.screens.confirm import ConfirmScreen
from starling_tui.ui.screens.conversation_settings import (
    ConversationSettings,
    ConversationSettingsScreen,
)
from starling_tui.ui.screens.model_picker import ModelPickerScreen
from starling_tui.ui.screens.settings import SettingsScreen, SettingsValues
from starling_tui.ui.screens.text_prompt import TextPromptScreen
from starling_tui.ui.screens.welcome import WelcomeScreen
from starling_tui.ui.widgets.sidebar import Sidebar


class ChatDialogs(ChatTasks):
    """``action_*`` methods of the chat screen that ask the user something first."""

    def _sidebar_target(self) -> str | None:
        """The conversation an action is about: the sidebar's cursor when it has focus."""
        sidebar = self.query_one(Sidebar)
        if sidebar.has_focus_within and sidebar.highlighted_id:
            return sidebar.highlighted_id
        return self.conversation_id

    @work
    async def action_rename_conversation(self) -> None:
        """Rename the conversation."""
        target = self._sidebar_target()
        if target is None:
            self.notify("No conversation to rename", severity="warning")
            return
        title = await self.app.push_screen_wait(TextPromptScreen("Rename conversation", ""))
        if title:
            self.update_conversation(target, title=title)

    @work
    async def action_delete_conversation(self) -> None:
        """Delete the conversation, after asking."""
        target = self._sidebar_target()
        if target is None:
            self.notify("No conversation to delete", severity="warning")
            return
        if await self.app.push_screen_wait(ConfirmScreen("Delete this conversation for good?")):
            self.delete_conversation(target)

    @work
    async def action_conversation_settings(self) -> None:
        """Edit this conversation's system prompt, coding mode and sampling."""
        if self.conversation_id is None:
            self.notify("Send a first message, then set this chat's settings", severity="warning")
            return
        import asyncio

        conversation = await asyncio.to_thread(
            self.services.store.get_conversation, self.conversation_id
        )
        current = ConversationSettings(
            conversation.mode, conversation.system_prompt, dict(conversation.sampling)
        )
        result = await self.app.push_screen_wait(ConversationSettingsScreen(current))
        if result is not None:
            self.update_conversation(
                conversation.id, mode=result.mode, system_prompt=result.system_prompt,
                sampling=result.sampling,
            )

    # -- models and settings ------------------------------------------------------------------

    def show_welcome(self) -> None:
        """The no-model screen; "open" goes on to the model picker."""

        def chosen(choice: str | None) -> None:
            if choice == "open":
                self.action_open_model()

        self.app.push_screen(WelcomeScreen(), chosen)

    @work
    async def action_open_model(self) -> None:
        """Pick a GGUF from the models folder (or a path) and load it."""
        if self.generating:
            self.notify("Stop the reply before changing the model", severity="warning")
            return
        import asyncio

        models = await asyncio.to_thread(self.services.available_models)
        picker = ModelPickerScreen(models, self.services.models_dir)
        path = await self.app.push_screen_wait(picker)
        if path:
            self.load_model(path)

    @work
    async def action_settings(self) -> None:
        """Edit the app settings; they apply now and are saved to the config file."""
        services = self.services
        current = SettingsValues.from_services(services, self.app.theme)
        themes = sorted(self.app.available_themes)
        result = await self.app.push_screen_wait(SettingsScreen(current, themes))
        if result is None:
            return
        reload_needed = result.engine_changed(current)
        result.apply(services)
        self.app.theme = result.theme
        if services.save_settings is not None:
            import asyncio

            await asyncio.to_thread(services.save_settings, result.config_changes())
        self.notify("Settings saved", timeout=2)
        if reload_needed and self.model_info is not None and not self.generating:
            self.load_model(self.model_info.path)
