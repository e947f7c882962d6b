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
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]
TemplateMode = Literal["openchat", "code", "auto"]
FinishReason = Literal["stop", "length", "cancelled", "error", "incomplete", "repetition"]
OverflowPolicy = Literal["shift", "drop", "error"]
GpuLayers = int | Literal["auto", "all"]


class EngineError(Exception):
    """A failure the user should see as one clear line (bad model, crashed worker, OOM…)."""


class EngineCrashed(EngineError):
    """The engine's worker process died (segfault, abort, killed). The engine can be reloaded."""


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation, as the engine sees it."""

    role: Role
    content: str


@dataclass(frozen=True)
class EngineOptions:
    """How to load a model. ``None`` means "the engine picks" (documented per field)."""

    model_path: str
    n_gpu_layers: GpuLayers = "auto"  # auto: all layers when a GPU backend exists, else 0
    n_ctx: int | None = None  # None: the model's training context
    n_threads: int | None = None  # None: llama.cpp's default for this machine
    n_batch: int = 512
    flash_attn: bool | None = None  # None: llama.cpp decides
    use_mmap: bool = True
    use_mlock: bool = False
    extra_bufts: bool | None = None  # None: off on AMX CPUs (llama.cpp issue 20824), else on
    kv_cache_type: str | None = None  # e.g. "q8_0"; None: f16
    state_cache: bool = True  # save/restore per-conversation KV state (issue 7)
    state_cache_budget_mb: int = 4096  # disk budget of saved states (least recently used go)
    state_cache_dir: str | None = None  # None: app_paths().state_cache_dir
    context_overflow: OverflowPolicy = "shift"  # a full window: shift KV, re-evaluate, refuse
    context_shift_share: float = 0.25  # share of the window one context shift frees
    self_extend: int = 1  # Self-Extend group size G (1 = off)
    self_extend_window: int = 512  # Self-Extend neighbour window W


@dataclass(frozen=True)
class SamplingOptions:
    """How to pick tokens. Temperature 0 (greedy) is the model card's advice."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    seed: int = 0
    max_tokens: int | None = None  # None: until end of turn or the context is full
    loop_guard: bool = True  # stop a reply that keeps repeating the same span ("repetition")


@dataclass(frozen=True)
class ChatRequest:
    """A whole conversation to continue: the engine renders and tokenizes it."""

    messages: tuple[ChatMessage, ...]
    mode: TemplateMode = "auto"  # auto: OpenChat for Starling, else the model's own template
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    conversation_id: str | None = None  # lets the engine key saved KV states


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
    template: str  # "openchat" or "chat_template"
    gpu_note: str = ""  # why this many layers were offloaded (e.g. "no GPU backend in this build")


@dataclass
class GenerationStats:
    """Figures for one reply (``ask --stats`` prints them as JSON)."""

    prompt_tokens: int = 0
    evaluated_tokens: int = 0  # prompt tokens actually run through the model (not reused)
    cached_tokens: int = 0  # reused from the live KV cache
    restored_tokens: int = 0  # reused from a saved state file
    completion_tokens: int = 0
    ttft_s: float = 0.0
    tokens_per_s: float = 0.0
    finish_reason: FinishReason = "stop"
    dropped_messages: int = 0  # oldest turns left out to fit the context
    error: str = ""


@dataclass(frozen=True)
class PromptPreview:
    """The exact prompt of a request: ids, and text with special tokens visible."""

    token_ids: tuple[int, ...]
    rendered: str
    dropped_messages: int = 0


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
        """Figures of the most recent (or current) reply."""
        ...

    @property
    def info(self) -> ModelInfo | None:
        """The loaded model, if any."""
        ...

    def close(self) -> None:
        """Free the model and stop any worker process."""
        ...
