"""The chat actions in one table: each gets a key binding and a command-palette entry."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class ChatAction:
    """One user action of the chat screen."""

    key: str
    action: str  # the chat screen's action (without ``action_``), with arguments if any
    title: str  # the footer label and the palette title
    help: str
    show: bool = True  # shown in the footer
    # Priority bindings run while the app dispatches the key, before it routes the keys
    # queued behind it; a shortcut that moves the cursor must be one, or a fast typist's
    # next keys still go to the old widget. Also wins over the focused widget's binding.
    priority: bool = False


CHAT_ACTIONS: tuple[ChatAction, ...] = (
    ChatAction("escape", "stop", "Stop", "Stop the reply being generated (keeps it, marked)"),
    ChatAction("ctrl+n", "new_chat", "New chat", "Start a new conversation", priority=True),
    ChatAction("ctrl+r", "regenerate", "Regenerate", "Generate the last reply again (a branch)"),
    ChatAction("f3", "edit_message", "Edit", "Edit the selected (or last) message and resend it",
               priority=True),
    ChatAction("alt+left", "branch(-1)", "Prev branch", "Show the previous sibling branch",
               show=False),
    ChatAction("alt+right", "branch(1)", "Next branch", "Show the next sibling branch",
               show=False),
    ChatAction("f4", "dialog('attach_file')", "Attach",
               "Attach a text file to the next message (paths start in the working folder)"),
    ChatAction("f5", "copy_message", "Copy", "Copy the selected (or last) reply to the clipboard"),
    ChatAction("f6", "copy_code", "Copy code", "Copy the last code block of the selected reply",
               show=False, priority=True),  # TextArea binds f6/f7 (select line/all)
    ChatAction("ctrl+t", "toggle_code_mode", "Code mode",
               "Toggle coding mode (Code User:) for this conversation", show=False),
    ChatAction("ctrl+g", "dialog('conversation_settings')", "Chat settings",
               "System prompt and sampling for this conversation", show=False),
    ChatAction("f7", "inspect_prompt", "Inspect",
               "Show the exact token ids and text of the next prompt", show=False, priority=True),
    ChatAction("f8", "export", "Export", "Export this conversation to Markdown", show=False),
    ChatAction("f2", "dialog('rename')", "Rename", "Rename the conversation", show=False),
    ChatAction("ctrl+delete", "dialog('delete')", "Delete chat",
               "Delete the conversation (asks first; Delete in the sidebar)", show=False),
    ChatAction("ctrl+f", "search", "Search", "Search all conversations", show=False,
               priority=True),
    ChatAction("ctrl+b", "toggle_sidebar", "Sidebar",
               "Show or hide the conversation list (hidden by itself below 80 columns)",
               show=False),
    ChatAction("ctrl+o", "dialog('open_model')", "Model", "Open a model (GGUF)"),
    ChatAction("f9", "dialog('settings')", "Settings",
               "GPU layers, context, threads, sampling, theme"),
)


def chat_bindings() -> list[BindingType]:
    """Key bindings of the chat screen, built from :data:`CHAT_ACTIONS`."""
    return [
        Binding(a.key, a.action, a.title, show=a.show, priority=a.priority, tooltip=a.help)
        for a in CHAT_ACTIONS
    ]
