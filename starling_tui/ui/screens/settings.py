"""The settings screen: GPU layers, context, threads, temperature, top_p, max tokens, theme.

The app applies the result at once (a changed engine setting reloads the model) and saves it to
the config file through the injected ``save_settings``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from starling_tui.engine.base import GpuLayers
from starling_tui.ui.form_values import (
    FormError,
    parse_gpu_layers,
    parse_optional_float,
    parse_optional_int,
)
from starling_tui.ui.services import Services


@dataclass(frozen=True)
class SettingsValues:
    """The values the screen edits."""

    n_gpu_layers: GpuLayers
    ctx: int | None
    threads: int | None
    temperature: float
    top_p: float
    max_tokens: int | None
    theme: str

    @classmethod
    def from_services(cls, services: Services, theme: str) -> SettingsValues:
        """The values the app runs with now."""
        e, s = services.engine_options, services.sampling
        return cls(e.n_gpu_layers, e.n_ctx, e.n_threads, s.temperature, s.top_p, s.max_tokens,
                   theme)

    def engine_changed(self, other: SettingsValues) -> bool:
        """Do these values need the model reloaded, compared with ``other``?"""
        return (self.n_gpu_layers, self.ctx, self.threads) != (
            other.n_gpu_layers, other.ctx, other.threads)

    def apply(self, services: Services) -> None:
        """Use these values for the next model load and reply."""
        services.engine_options = replace(
            services.engine_options, n_gpu_layers=self.n_gpu_layers, n_ctx=self.ctx,
            n_threads=self.threads,
        )
        services.sampling = replace(
            services.sampling, temperature=self.temperature, top_p=self.top_p,
            max_tokens=self.max_tokens,
        )

    def config_changes(self) -> dict[str, Any]:
        """The config-file keys for these values (0 stands for "automatic")."""
        return {
            "n_gpu_layers": self.n_gpu_layers, "ctx": self.ctx or 0, "threads": self.threads or 0,
            "temperature": self.temperature, "top_p": self.top_p,
            "max_tokens": self.max_tokens or 0, "theme": self.theme,
        }


FIELDS = (
    ("n_gpu_layers", "GPU layers", "auto, all or a number"),
    ("ctx", "Context size", "tokens; empty = the model's"),
    ("threads", "Threads", "empty = llama.cpp's choice"),
    ("temperature", "Temperature", "0 = greedy"),
    ("top_p", "Top p", "0–1"),
    ("max_tokens", "Max tokens", "empty = no limit"),
)


def _text(value: object) -> str:
    return "" if value is None else str(value)


class SettingsScreen(ModalScreen[SettingsValues | None]):
    """Dismisses with the new values, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, current: SettingsValues, themes: list[str]) -> None:
        super().__init__()
        self.current = current
        self.themes = themes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label("Settings", classes="dialog-title")
            with VerticalScroll(classes="form"):
                for key, label, hint in FIELDS:
                    with Horizontal(classes="form-row"):
                        yield Label(label, classes="form-label")
                        yield Input(_text(getattr(self.current, key)), placeholder=hint,
                                    id=f"setting-{key}", compact=True)
                with Horizontal(classes="form-row"):
                    yield Label("Theme", classes="form-label")
                    yield Select([(t, t) for t in self.themes], value=self.current.theme,
                                 allow_blank=False, id="setting-theme", compact=True)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        """Close without saving, undoing a previewed theme."""
        self.app.theme = self.current.theme
        self.dismiss(None)

    def on_select_changed(self, event: Select.Changed) -> None:
        # preview the theme as it is picked
        if isinstance(event.value, str):
            self.app.theme = event.value

    def _value(self, key: str) -> str:
        return self.query_one(f"#setting-{key}", Input).value

    def action_save(self) -> None:
        """Validate and dismiss with the new values."""
        try:
            values = SettingsValues(
                n_gpu_layers=parse_gpu_layers(self._value("n_gpu_layers")),
                ctx=parse_optional_int("Context size", self._value("ctx"), minimum=0) or None,
                threads=parse_optional_int("Threads", self._value("threads")) or None,
                temperature=parse_optional_float(
                    "Temperature", self._value("temperature"), maximum=5.0) or 0.0,
                top_p=_default(parse_optional_float("Top p", self._value("top_p"), maximum=1.0),
                               1.0),
                max_tokens=parse_optional_int("Max tokens", self._value("max_tokens")) or None,
                theme=str(self.query_one("#setting-theme", Select).value),
            )
        except FormError as error:
            self.notify(str(error), severity="error")
            return
        self.dismiss(values)


def _default(value: float | None, default: float) -> float:
    return default if value is None else value
