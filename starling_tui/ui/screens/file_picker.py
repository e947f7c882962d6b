"""Pick a text file to attach: a path box with completion, starting in the working directory.

The box takes a path as typed (relative to the working directory, ``~`` for home); the list
under it shows the entries of the folder typed so far that start with the name being typed
(folders first). Tab completes the name (to the highlighted entry, or as far as the entries
agree); Enter attaches a file or opens a folder; Down moves into the list. Nothing is ever
globbed or searched for: the path attached is the one the user typed or picked
(:mod:`starling_tui.ui.file_paths`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from starling_tui.ui.file_paths import completion, entries, resolve, split_typed
from starling_tui.ui.focus import focus_now


class FilePickerScreen(ModalScreen[str | None]):
    """Dismisses with the path of the file to attach (as typed, made absolute), or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        # not a priority binding: the keys typed before Tab reach the box first
        Binding("tab", "complete", "Complete"),
        Binding("down", "to_list", "The list", show=False),
    ]

    def __init__(self, start: Path) -> None:
        super().__init__()
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label("Attach a file", classes="dialog-title")
            yield Label(f"Paths start in {self.start}", classes="dialog-text", markup=False)
            yield Input(placeholder="a file's path (Tab completes)", id="file-path")
            yield OptionList(id="file-list")
            yield Label("Enter attaches a file or opens a folder · Tab completes · "
                        "↓ the list · Esc cancels", classes="dialog-text")

    def on_mount(self) -> None:
        focus_now(self.query_one("#file-path", Input))
        self._list("")

    @property
    def typed(self) -> str:
        """What the path box holds."""
        return self.query_one("#file-path", Input).value

    def _list(self, typed: str) -> None:
        options = self.query_one("#file-list", OptionList)
        options.clear_options()
        for entry in entries(typed, self.start):
            options.add_option(Option(entry.shown, id=entry.shown))
        if options.option_count:
            options.highlighted = 0

    def _set_typed(self, typed: str) -> None:
        box = self.query_one("#file-path", Input)
        box.value = typed
        box.cursor_position = len(typed)
        focus_now(box)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._list(event.value)

    def action_complete(self) -> None:
        """Complete the name being typed (a folder: open it)."""
        options = self.query_one("#file-list", OptionList)
        found = entries(self.typed, self.start)
        if options.has_focus and options.highlighted is not None:
            folder, _ = split_typed(self.typed)
            picked = options.get_option_at_index(options.highlighted).id or ""
            self._set_typed(folder + picked)
            return
        self._set_typed(completion(self.typed, found))

    def action_to_list(self) -> None:
        """Move into the list of entries."""
        options = self.query_one("#file-list", OptionList)
        if options.option_count:
            focus_now(options)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        typed = event.value.strip()
        if typed:
            self._choose(typed)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        folder, _ = split_typed(self.typed)
        self._choose(folder + (event.option.id or ""))

    def _choose(self, typed: str) -> None:
        path = resolve(typed, self.start)
        if path.is_dir():
            self._set_typed(typed if typed.endswith("/") else typed + "/")
            return
        # the path as typed (its name goes to the model, as ``-f`` gives it in the CLI),
        # read and checked by the chat core, which says what is wrong with it
        self.dismiss(os.path.expanduser(typed))  # relative to the working folder, as typed
