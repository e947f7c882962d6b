"""The status line: model and quant, GPU layers, a context meter and the last reply's speed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Label, ProgressBar

from starling_tui.engine.base import GenerationStats, ModelInfo


def describe_model(info: ModelInfo | None) -> str:
    """``name · quant · GPU n/m`` for the status line, or a hint when nothing is loaded."""
    if info is None:
        return "no model loaded (ctrl+o to open one)"
    return f"{info.name} · {info.quant} · GPU {info.n_gpu_layers}/{info.n_layers} layers"


def describe_speed(stats: GenerationStats | None) -> str:
    """Tokens/s and time to first token of the last reply."""
    if stats is None or stats.completion_tokens == 0:
        return ""
    return f"{stats.tokens_per_s:.1f} tok/s · TTFT {stats.ttft_s * 1000:.0f} ms"


class StatusLine(Horizontal):
    """One row under the chat: what runs, how full the context is, how fast it went."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        background: $panel;
        color: $text-muted;
        padding: 0 1;
    }
    StatusLine > Label { width: auto; margin-right: 2; }
    StatusLine > #status-model { width: 1fr; }
    StatusLine > ProgressBar { width: 22; }
    StatusLine > ProgressBar > Bar { width: 14; }
    StatusLine #status-state { color: $accent; }
    """

    info: reactive[ModelInfo | None] = reactive(None)
    context_used: reactive[int] = reactive(0)
    stats: reactive[GenerationStats | None] = reactive(None)
    state: reactive[str] = reactive("")

    def compose(self) -> ComposeResult:
        yield Label(id="status-model")
        yield Label(id="status-state")
        yield Label("ctx", id="status-ctx-label")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="status-ctx")
        yield Label(id="status-ctx-numbers")
        yield Label(id="status-speed")

    def on_mount(self) -> None:
        self._refresh_all()

    def watch_info(self) -> None:
        self._refresh_all()

    def watch_context_used(self) -> None:
        self._refresh_all()

    def watch_stats(self) -> None:
        self._refresh_all()

    def watch_state(self) -> None:
        self._refresh_all()

    def _refresh_all(self) -> None:
        if not self.children:
            return  # not composed yet; on_mount refreshes
        total = self.info.n_ctx if self.info else 0
        used = min(self.context_used, total) if total else self.context_used
        self.query_one("#status-model", Label).update(describe_model(self.info))
        self.query_one("#status-state", Label).update(self.state)
        bar = self.query_one("#status-ctx", ProgressBar)
        bar.update(total=max(total, 1), progress=used)
        numbers = f"{used}/{total}" if total else "–"
        self.query_one("#status-ctx-numbers", Label).update(numbers)
        self.query_one("#status-speed", Label).update(describe_speed(self.stats))
