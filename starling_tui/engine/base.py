"""The engine contract shared by the TUI, the CLI and every backend.

An engine loads one model and turns a chat request into a stream of text pieces. The
request carries messages, not tokens: prompt building, context-overflow trimming and KV
reuse happen inside the engine, next to the tokenizer. Backends: the llama.cpp child
process (``starling_tui.engine.parent.process``) and the scripted fake
(``starling_tui.engine.fake``);
a remote OpenAI-compatible backend would be a third.

Nothing here imports llama_cpp or Textual.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from starling_tui.config.settings import Settings
from starling_tui.types import ChatFormat, ChatRequest, FinishReason, GpuLayers, OverflowPolicy

# The user-facing defaults of the load options: the settings table's, never restated here.
_DEFAULTS = Settings()


@dataclass(frozen=True)
class EngineOptions:
    """How to load a model. ``None`` means "the engine picks" (documented per field)."""

    model_path: str
    n_gpu_layers: GpuLayers = _DEFAULTS.n_gpu_layers  # auto: all layers on a GPU backend, else 0
    n_ctx: int | None = _DEFAULTS.ctx  # None: the model's training context
    n_threads: int | None = _DEFAULTS.threads  # None: the cores other programs leave free
    n_batch: int = _DEFAULTS.batch
    flash_attn: bool | None = _DEFAULTS.flash_attn  # None: llama.cpp decides
    use_mmap: bool = _DEFAULTS.mmap
    use_mlock: bool = _DEFAULTS.mlock
    extra_bufts: bool | None = _DEFAULTS.extra_bufts  # None: off on AMX CPUs, else on
    kv_cache_type: str | None = _DEFAULTS.kv_cache_type  # e.g. "q8_0"; None: f16
    state_cache: bool = _DEFAULTS.state_cache  # save/restore per-conversation KV state
    state_cache_budget_mb: int = _DEFAULTS.state_cache_budget_mb  # oldest saved states go first
    state_cache_dir: str | None = None  # None: app_paths().state_cache_dir
    context_overflow: OverflowPolicy = _DEFAULTS.context_overflow  # shift KV, re-evaluate, refuse
    context_shift_share: float = _DEFAULTS.context_shift_share  # share one context shift frees
    self_extend: int = _DEFAULTS.self_extend  # Self-Extend group size G (1 = off)
    self_extend_window: int = _DEFAULTS.self_extend_window  # Self-Extend neighbour window W
    chat_format: ChatFormat = _DEFAULTS.chat_format  # the format of a model without a template
    speculative: str = _DEFAULTS.speculative  # "auto": draft from the conversation where it pays


@dataclass(frozen=True)
class ModelInfo:
    """What the loaded model is and how it runs; the status line shows it."""

    path: str
    name: str
    quant: str
    n_ctx_train: int
    n_ctx: int
    n_layers: int
    n_gpu_layers: int
    backend: str  # e.g. "CPU", "CUDA0"
    # The prompt format: "openchat", "chat_template" (the model's own) or, for a model without
    # one, a llama.cpp built-in format's name ("gemma", "chatml"…)
    template: str
    gpu_note: str = ""  # why this many layers were offloaded (e.g. "no GPU backend in this build")
    gpu_build: bool = True  # False: this llama.cpp build has no GPU backend at all
    template_note: str = ""  # the model has no chat template: which format was chosen and why
    context_note: str = ""  # the context differs from the size asked for, and why
    remote: bool = False  # served by a remote server (``path`` is its URL, layers its business)

    @property
    def is_openchat(self) -> bool:
        """Whether this is an OpenChat model (Starling's format and vocabulary): the one kind
        of model on which coding mode (``Code User:``) works."""
        return self.template == "openchat" and not self.template_note


@dataclass
class GenerationStats:
    """Figures for one reply (``ask --stats`` prints them as JSON)."""

    prompt_tokens: int = 0
    evaluated_tokens: int = 0  # prompt tokens actually run through the model (not reused)
    cached_tokens: int = 0  # reused from the live KV cache
    restored_tokens: int = 0  # reused from a saved state file
    completion_tokens: int = 0
    drafted_tokens: int = 0  # tokens drafted from the conversation and verified (speculative)
    accepted_tokens: int = 0  # drafted tokens the model agreed with (each saved a decode step)
    ttft_s: float = 0.0
    tokens_per_s: float = 0.0
    finish_reason: FinishReason = "stop"
    window_full: bool = False  # a "length" stop because the context window was full, not max_tokens
    dropped_messages: int = 0  # oldest turns left out to fit the context
    error: str = ""


@dataclass(frozen=True)
class PromptPreview:
    """The exact prompt of a request: ids, and text with special tokens visible."""

    token_ids: tuple[int, ...]
    rendered: str
    dropped_messages: int = 0
    format_note: str = ""  # the model has no chat template: which format was chosen and why


class Engine(Protocol):
    """What every backend offers. Methods block; the UI calls them from worker threads."""

    def load(self, options: EngineOptions) -> ModelInfo:
        """Load a model (replacing any loaded one); raise EngineError with a clear message."""
        ...

    def generate(self, request: ChatRequest) -> Iterator[str]:
        """Stream the reply as text pieces; ``last_stats`` is complete when the iterator ends."""
        ...

    def preview(self, request: ChatRequest) -> PromptPreview:
        """The exact tokens ``generate`` would evaluate for this request."""
        ...

    def cancel(self) -> None:
        """Stop the current generation (or prompt evaluation) as soon as possible; thread-safe."""
        ...

    @property
    def last_stats(self) -> GenerationStats:
        """Figures of the most recent (or current) reply. While a reply is on its way they
        grow as it goes where the backend can tell: the prompt tokens read so far
        (``cached_tokens + restored_tokens + evaluated_tokens`` of ``prompt_tokens``), the
        tokens generated so far and the time to the first one."""
        ...

    @property
    def info(self) -> ModelInfo | None:
        """The loaded model, if any."""
        ...

    def close(self) -> None:
        """Free the model and stop any worker process."""
        ...
