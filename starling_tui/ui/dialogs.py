"""The chat screen's actions that ask the user first (rename, delete, a chat's settings, the
model picker, the settings screen) and model loading behind its progress dialog.

Each dialog is a coroutine the screen runs as an async Textual worker (``push_screen_wait`` needs
one); the work after the answer goes through the controller's thread workers.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from textual.screen import Screen

from starling_tui.disk import human
from starling_tui.ui.chat_view import ChatView
from starling_tui.ui.controller import RESTART_KEYS, ChatController
from starling_tui.ui.screens.confirm import ConfirmScreen
from starling_tui.ui.screens.conversation_settings import (
    ConversationSettings,
    ConversationSettingsScreen,
)
from starling_tui.ui.screens.file_picker import FilePickerScreen
from starling_tui.ui.screens.model_picker import ModelPickerScreen
from starling_tui.ui.screens.settings import SettingsScreen, changed_values
from starling_tui.ui.screens.text_prompt import TextPromptScreen
from starling_tui.ui.screens.welcome import WelcomeScreen


class ChatDialogs:
    """Dialog flows of the chat screen (composition: given the screen, controller and view)."""

    def __init__(self, screen: Screen[None], controller: ChatController, view: ChatView) -> None:
        self.screen = screen
        self.controller = controller
        self.view = view

    def load_model(self, path: str) -> None:
        """Load a model once the loading dialog is on screen (a fast load cannot outrun it)."""
        shown = self.view.show_loading(path)

        async def load_when_shown() -> None:
            await shown
            self.controller.load_model(path)

        self.screen.run_worker(load_when_shown(), group="dialog")

    def _target(self) -> str | None:
        """The conversation an action is about: the sidebar's cursor when it has focus."""
        sidebar = self.view.sidebar
        if sidebar.has_focus_within and sidebar.highlighted_id:
            return sidebar.highlighted_id
        return self.controller.state.conversation_id

    async def rename(self) -> None:
        """Rename the conversation."""
        target = self._target()
        if target is None:
            self.screen.notify("No conversation to rename", severity="warning")
            return
        conversation = await asyncio.to_thread(self.controller.core.conversation, target)
        title = await self.screen.app.push_screen_wait(
            TextPromptScreen("Rename conversation", conversation.title)
        )
        if title:
            self.controller.change_conversation(target, title=title)

    async def delete(self) -> None:
        """Delete the conversation, after asking."""
        target = self._target()
        if target is None:
            self.screen.notify("No conversation to delete", severity="warning")
            return
        conversation = await asyncio.to_thread(self.controller.core.conversation, target)
        question = ConfirmScreen(f"Delete “{conversation.title or 'New chat'}” for good?")
        if await self.screen.app.push_screen_wait(question):
            self.controller.delete_conversation(target)

    async def conversation_settings(self) -> None:
        """Edit this conversation's system prompt, coding mode and sampling overrides (a new
        chat's are kept until its first message creates it)."""
        state = self.controller.state
        cid = state.conversation_id
        if cid is None:
            system = self.controller.core.settings.system_prompt
            if state.new_system_prompt is not None:
                system = state.new_system_prompt
            current = ConversationSettings(state.mode, system, dict(state.new_sampling))
        else:
            conversation = await asyncio.to_thread(self.controller.core.conversation, cid)
            current = ConversationSettings(
                conversation.mode, conversation.system_prompt, dict(conversation.sampling)
            )
        dialog = ConversationSettingsScreen(current, default_system=state.default_system,
                                            new_chat=cid is None)
        result = await self.screen.app.push_screen_wait(dialog)
        if result is None:
            return
        if result.mode == "code" and current.mode != "code" and (
            not self.controller.code_mode_allowed()
        ):
            result = replace(result, mode=current.mode)  # the rest of the form still applies
        if cid is None:
            state.mode = result.mode
            state.new_system_prompt = result.system_prompt
            state.new_sampling = dict(result.sampling)
            self.view.show_mode(result.mode)
        else:
            self.controller.change_conversation(
                cid, mode=result.mode, system_prompt=result.system_prompt,
                sampling_changes=result.sampling, replace_sampling=True,
            )

    def welcome(self) -> None:
        """The no-model screen; "open" goes on to the model picker."""

        def chosen(choice: str | None) -> None:
            if choice == "open":
                self.screen.run_worker(self.open_model(), group="dialog")

        self.screen.app.push_screen(WelcomeScreen(), chosen)

    async def open_model(self) -> None:
        """Pick a GGUF from the models folder (or a path) and load it."""
        if self.controller.generating:
            self.screen.notify("Stop the reply before changing the model", severity="warning")
            return
        services = self.controller.services
        models = await asyncio.to_thread(services.available_models)
        path = await self.screen.app.push_screen_wait(
            ModelPickerScreen(models, services.models_dir)
        )
        if path:
            self.controller.state.remember_model = path  # saved once it has loaded
            self.load_model(path)

    async def attach_file(self) -> None:
        """Pick a file (path completion from the working folder) and attach it to the draft."""
        path = await self.screen.app.push_screen_wait(FilePickerScreen(Path.cwd()))
        if path:
            self.controller.attach(path)

    async def attach_pasted(self, text: str, path: Path) -> None:
        """A pasted line names a file: attach it, or paste the text after all."""
        size = human(path.stat().st_size) if path.exists() else "?"
        question = ConfirmScreen(f"Attach {path} ({size}) to the message?", "Attach",
                                 cancel_label="Paste the text", variant="primary")
        if await self.screen.app.push_screen_wait(question):
            self.controller.attach(str(path))
        else:
            self.view.type_into_prompt(text)

    async def settings(self) -> None:
        """Edit the app settings; they apply now and are saved to the config file."""
        app, controller = self.screen.app, self.controller
        current = controller.core.settings
        default = controller.state.default_system if controller.state.model_info else None
        result = await app.push_screen_wait(
            SettingsScreen(current, sorted(app.available_themes), default_system=default)
        )
        if result is None:
            return
        reload_needed = controller.apply_settings(result)
        app.theme = result.theme
        changes = changed_values(current, result)
        save = controller.services.save_settings
        if save is not None and changes:
            await asyncio.to_thread(save, changes)
        later = " (the engine URL applies at the next start)" if RESTART_KEYS & set(changes) else ""
        self.screen.notify(f"Settings saved{later}", timeout=2)
        info = controller.state.model_info
        if reload_needed and info is not None and not controller.generating:
            self.load_model(info.path)
