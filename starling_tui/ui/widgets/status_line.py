"""The status line: model and quant, GPU layers, a context meter and the last reply's speed.

The context meter says what its numbers are: the tokens the conversation fills of the window,
and the room kept free for the reply (``ctx 563/1024 · reply 512``); the draft's own figures
are on the prompt box (:mod:`.prompt_input`).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Label, ProgressBar

from starling_tui.engine.base import GenerationStats, ModelInfo


def describe_model(info: ModelInfo | None) -> str:
    """``name · quant · where it runs`` (the status line's tooltip), or a hint if none is loaded;
    the model's notes follow on their own line."""
    name, runtime = model_parts(info)
    described = f"{name} · {runtime}" if runtime else name
    notes = model_notes(info)
    return f"{described}\n{notes}" if notes else described


def model_notes(info: ModelInfo | None) -> str:
    """What the engine says about how the model runs that the user should know: the prompt
    format chosen for a model without a chat template, a context other than the one asked."""
    if info is None:
        return ""
    return " · ".join(note for note in (info.template_note, info.context_note) if note)


def model_parts(info: ModelInfo | None) -> tuple[str, str]:
    """The model's name, and ``quant · where it runs`` (shown first, and whole: the name is
    what gets cut when the line is short).

    Where it runs is the truth from the engine: the GPU device and layers on it, or the CPU and
    why (the most common complaint about llama.cpp apps is a GPU silently left unused), or the
    server a remote engine talks to (its model name comes through ``ModelInfo`` likewise).
    """
    if info is None:
        return "no model loaded (ctrl+o to open one)", ""
    if info.remote:  # a remote engine: its path is the server's URL
        return info.name, " · ".join(p for p in (info.quant, info.backend) if p)
    if info.n_gpu_layers:
        device = info.backend.split(" (", 1)[0]
        where = f"{device} {info.n_gpu_layers}/{info.n_layers} layers"
    elif not info.gpu_build:
        where = "CPU (no GPU build)"  # the tooltip says more: a short line fits 80 columns
    else:
        where = f"CPU, GPU 0/{info.n_layers} layers"
    return info.name, f"{info.quant} · {where}"


def describe_speed(stats: GenerationStats | None) -> str:
    """Tokens/s and time to first token of the last reply, and the share of drafted tokens
    the model kept when speculative decoding drafted any."""
    if stats is None or stats.completion_tokens == 0:
        return ""
    speed = f"{stats.tokens_per_s:.1f} tok/s · TTFT {stats.ttft_s * 1000:.0f} ms"
    if stats.drafted_tokens:
        speed += f" · drafts {100 * stats.accepted_tokens // stats.drafted_tokens}% kept"
    return speed


BAR_MIN_WIDTH = 110


class StatusLine(Horizontal):
    """One row under the chat: what runs, how full the context is, how fast it went."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        background: $panel;
        color: $text-muted;
        padding: 0 1;
    }
    StatusLine > Label { width: auto; margin-right: 1; }
    /* Quant and where it runs come first; a long model name is cut with an ellipsis. */
    StatusLine > #status-model {
        width: 1fr; min-width: 8; text-wrap: nowrap; text-overflow: ellipsis;
    }
    StatusLine > ProgressBar { width: 22; }
    StatusLine > ProgressBar > Bar { width: 14; }
    StatusLine #status-state { color: $accent; }
    """

    info: reactive[ModelInfo | None] = reactive(None)
    context_used: reactive[int] = reactive(0)
    stats: reactive[GenerationStats | None] = reactive(None)
    state: reactive[str] = reactive("")
    reserve: reactive[int | None] = reactive(None)  # tokens kept free for the reply

    def compose(self) -> ComposeResult:
        yield Label(id="status-runtime")  # first: a long name must not push it off the line
        yield Label(id="status-model")
        yield Label(id="status-state")
        yield Label("ctx", id="status-ctx-label")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="status-ctx")
        yield Label(id="status-ctx-numbers")
        yield Label(id="status-speed")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: dict[str, str] = {}  # what each label shows (see ``_show``)

    def on_mount(self) -> None:
        self._refresh_all()

    def on_resize(self) -> None:
        # The bar is decoration; below this width the numbers and speed need its room.
        self.query_one("#status-ctx", ProgressBar).display = self.size.width >= BAR_MIN_WIDTH

    def watch_info(self) -> None:
        self._refresh_all()

    def watch_context_used(self) -> None:
        self._refresh_all()

    def watch_stats(self) -> None:
        self._refresh_all()

    def watch_state(self) -> None:
        self._refresh_all()

    def watch_reserve(self) -> None:
        self._refresh_all()

    def _refresh_all(self) -> None:
        if not self.children:
            return  # not composed yet; on_mount refreshes
        total = self.info.n_ctx if self.info else 0
        used = min(self.context_used, total) if total else self.context_used
        name, runtime = model_parts(self.info)
        model = self._show("#status-model", f"{name} ⚠" if model_notes(self.info) else name)
        model.tooltip = describe_model(self.info)
        where = self._show("#status-runtime", f"{runtime} ·" if runtime else "")
        where.display = bool(runtime)
        where.tooltip = self.info.gpu_note if self.info else None
        state = self._show("#status-state", self.state)
        state.display = bool(self.state)  # no empty gap on an 80-column line
        bar = self.query_one("#status-ctx", ProgressBar)
        bar.update(total=max(total, 1), progress=used)
        numbers = f"{used}/{total}" if total else "–"
        if total and self.reserve is not None:
            numbers += f" · reply {self.reserve}"
        label = self._show("#status-ctx-numbers", numbers)
        label.tooltip = (f"{used} of the {total}-token window in use; {self.reserve} kept free "
                         "for the reply") if total and self.reserve is not None else None
        self._show("#status-speed", describe_speed(self.stats))

    def _show(self, selector: str, text: str) -> Label:
        """The label at ``selector``, showing ``text``: updated only when the text changes,
        since every update lays the screen out again (the live figures come 4 times a
        second while a reply streams)."""
        label = self.query_one(selector, Label)
        if self._shown.get(selector) != text:
            self._shown[selector] = text
            label.update(text)
        return label

    def show_live(self, context_used: int, stats: GenerationStats | None) -> None:
        """A streaming reply's context and speed, in one refresh."""
        self.set_reactive(StatusLine.context_used, context_used)
        self.set_reactive(StatusLine.stats, stats)
        self._refresh_all()
