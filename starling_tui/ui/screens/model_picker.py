"""Pick a model: the GGUFs in the models folder, or any path typed in."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from starling_tui.ui.focus import focus_now


def size_text(path: Path) -> str:
    """A file size in GB/MB for the list."""
    try:
        size = path.stat().st_size
    except OSError:
        return "?"
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


class ModelPickerScreen(ModalScreen[str | None]):
    """Dismisses with the chosen GGUF path, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, models: Sequence[Path], models_dir: Path) -> None:
        super().__init__()
        self.models = list(models)
        self.models_dir = models_dir

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label("Open a model", classes="dialog-title")
            if self.models:
                yield OptionList(
                    *[Option(f"{p.name}  ({size_text(p)})", id=str(p)) for p in self.models],
                    id="model-list",
                )
            else:
                yield Label(f"No GGUF files in {self.models_dir}", classes="dialog-text")
            yield Label("…or type the path of a GGUF file:", classes="dialog-text")
            yield Input(placeholder="/path/to/model.gguf", id="model-path")

    def on_mount(self) -> None:
        target = self.query("#model-list").first() if self.models else self.query_one(Input)
        focus_now(target)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if not event.value.strip():
            return
        if not path.is_file():
            self.notify(f"No such file: {path}", severity="error")
            return
        self.dismiss(str(path))
