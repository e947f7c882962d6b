"""The settings table: the :class:`Settings` record, each field declaring one setting.

Every setting is declared here once — type, default, section, value type (validation and
bounds), help, form label and command-line flag — and :data:`SETTINGS` lists the specs in file
order. Add a setting by adding a field; the file, the environment, the flags, the settings form
and TOML writing all pick it up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from starling_tui.config import values as v
from starling_tui.config.machine import logical_cores
from starling_tui.config.spec import SettingSpec, setting, spec_of_field
from starling_tui.errors import ConfigError
from starling_tui.types import (
    CHAT_FORMATS,
    OVERFLOW_POLICIES,
    ChatFormat,
    GpuLayers,
    OverflowPolicy,
)

ENGINE, SAMPLING = "engine", "sampling"
# More threads than cores only queue behind each other: thousands made a reply crawl.
CPU_CORES = v.Limit(logical_cores, "this machine's logical CPU cores")


@dataclass(frozen=True)
class Settings:
    """Every user setting. ``None`` means "automatic" (see :mod:`starling_tui.config`)."""

    model: str | None = setting(
        "", None, v.text(optional=True), "GGUF file, or a model name from the models folder "
        "(default: the configured model, or the only one there)", label="Model",
        flags=("--model", "-m"), metavar="MODEL", hint="empty = the only model")
    theme: str = setting("", "textual-dark", v.text(), "Textual theme", label="Theme")
    system_prompt: str = setting(
        "", "", v.text(), "system prompt of new conversations", label="System prompt")
    # [engine]
    n_gpu_layers: GpuLayers = setting(
        ENGINE, "auto", v.gpu_layers(), "layers to offload to the GPU: auto, all or a number",
        label="GPU layers", flags=("--n-gpu-layers",), metavar="N", hint="auto, all or a number")
    ctx: int | None = setting(
        ENGINE, None, v.integer(0, zero_is_auto=True),
        "context size, at most the model's training context (0 = the model's training "
        "context; llama.cpp rounds it up to a multiple of 256)", label="Context size",
        flags=("--ctx",), metavar="TOKENS", hint="tokens; empty = the model's")
    threads: int | None = setting(
        ENGINE, None, v.integer(0, zero_is_auto=True, limit=CPU_CORES),
        "CPU threads, at most the logical cores (0 = the cores other programs leave free)",
        label="Threads", flags=("--threads",), metavar="N", hint="empty = the free cores")
    batch: int = setting(
        ENGINE, 512, v.integer(1), "prompt evaluation batch size", label="Batch size",
        flags=("--batch",), metavar="TOKENS")
    flash_attn: bool | None = setting(
        ENGINE, None, v.auto_boolean(), "flash attention (auto: off on the CPU)",
        label="Flash attention")
    mmap: bool = setting(ENGINE, True, v.boolean(), "memory-map the model file", label="mmap")
    mlock: bool = setting(ENGINE, False, v.boolean(), "lock the model in RAM", label="mlock")
    extra_bufts: bool | None = setting(
        ENGINE, None, v.auto_boolean(), "llama.cpp extra buffer types (auto: off on Intel AMX)",
        label="Extra buffer types")
    kv_cache_type: str | None = setting(
        ENGINE, None, v.text(optional=True), "KV cache type: f16 (empty), q8_0, q4_0…",
        label="KV cache type", hint="empty = f16")
    state_cache: bool = setting(
        ENGINE, True, v.boolean(), "save each conversation's KV state to resume it instantly",
        label="State cache")
    state_cache_budget_mb: int = setting(
        ENGINE, 4096, v.integer(0), "disk budget of saved KV states in MB (oldest evicted)",
        label="State cache MB")
    context_overflow: OverflowPolicy = setting(
        ENGINE, "shift", v.choice(*OVERFLOW_POLICIES),
        "a full context window: shift (drop the oldest turns from the KV cache), drop "
        "(re-evaluate without them) or error", label="Context overflow",
        flags=("--context-overflow",), metavar="POLICY")
    context_shift_share: float = setting(
        ENGINE, 0.25, v.number(0.0, 1.0, exclusive=True), "share of the window one shift frees",
        label="Shift share")
    self_extend: int = setting(
        ENGINE, 1, v.integer(1), "Self-Extend group size G (1 = off): context up to ~G x training",
        label="Self-Extend group", flags=("--self-extend",), metavar="G")
    self_extend_window: int = setting(
        ENGINE, 512, v.integer(1), "Self-Extend neighbour window W (a multiple of G)",
        label="Self-Extend window", flags=("--self-extend-window",), metavar="W")
    speculative: str = setting(
        ENGINE, "auto", v.choice("auto", "off"),
        "speculative decoding from the conversation's own text: auto (drafts only where they "
        "pay on this model and device) or off", label="Speculative decoding",
        flags=("--speculative",), metavar="MODE")
    chat_format: ChatFormat = setting(
        ENGINE, "auto", v.choice(*CHAT_FORMATS),
        "prompt format of a model without a chat template: auto (from its architecture or "
        "vocabulary, else OpenChat with a warning), openchat, or one of llama.cpp's built-in "
        "templates", label="Chat format", flags=("--chat-format",), metavar="FORMAT")
    engine_url: str | None = setting(
        ENGINE, None, v.text(optional=True),
        "an OpenAI-compatible server to chat with instead of the local llama.cpp engine",
        label="Engine URL", flags=("--engine",), metavar="URL", hint="empty = local llama.cpp")
    api_key_file: str | None = setting(
        ENGINE, None, v.text(optional=True), "a file holding the server's API key",
        label="API key file")
    api_key_env: str | None = setting(
        ENGINE, None, v.text(optional=True),
        "an environment variable holding the server's API key (no variable is read unless named)",
        label="API key variable")
    send_key_over_http: bool = setting(
        ENGINE, False, v.boolean(),
        "send the API key over plain http to a host other than this machine",
        label="Key over plain http")
    # [sampling]
    temperature: float = setting(
        SAMPLING, 0.0, v.number(0.0, 5.0), "sampling temperature (0 = greedy, the default)",
        label="Temperature", flags=("--temperature",), metavar="T", hint="0 = greedy")
    top_p: float = setting(
        SAMPLING, 1.0, v.number(0.0, 1.0), "nucleus sampling threshold", label="Top p",
        flags=("--top-p",), metavar="P", hint="0–1")
    top_k: int = setting(
        SAMPLING, 0, v.integer(0), "sample among the K likeliest tokens (0 = off)",
        label="Top k", flags=("--top-k",), metavar="K")
    min_p: float = setting(
        SAMPLING, 0.0, v.number(0.0, 1.0), "drop tokens below P times the likeliest one",
        label="Min p", flags=("--min-p",), metavar="P")
    repeat_penalty: float = setting(
        SAMPLING, 1.0, v.number(0.0), "penalty for repeated tokens (1 = off)",
        label="Repeat penalty", flags=("--repeat-penalty",), metavar="X")
    seed: int = setting(
        SAMPLING, 0, v.integer(), "random seed", label="Seed", flags=("--seed",), metavar="N")
    max_tokens: int | None = setting(
        SAMPLING, None, v.integer(0, zero_is_auto=True),
        "stop the reply after N tokens (0 = no limit)", label="Max tokens",
        flags=("--max-tokens",), metavar="N", hint="empty = no limit")
    loop_guard: bool = setting(
        SAMPLING, True, v.boolean(), "stop a reply that keeps repeating the same span",
        label="Loop guard", flags=("--loop-guard",))

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (values are validated)."""
        return dataclasses.replace(self, **{k: parse_value(k, x) for k, x in changes.items()})


SETTINGS: tuple[SettingSpec, ...] = tuple(spec_of_field(f) for f in dataclasses.fields(Settings))
_BY_NAME = {s.name: s for s in SETTINGS}
SECTIONS: dict[str, tuple[str, ...]] = {
    section: tuple(s.name for s in SETTINGS if s.section == section)
    for section in ("", ENGINE, SAMPLING)
}


def spec(name: str) -> SettingSpec:
    """The spec of setting ``name``; :class:`ConfigError` for an unknown name."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown setting {name!r}") from None


def parse_value(name: str, value: Any, source: str = "") -> Any:
    """Validate one setting; raises :class:`ConfigError` naming ``source`` and the key."""
    if name not in _BY_NAME:
        where = f"{source}: " if source else ""
        raise ConfigError(f"{where}unknown setting {name!r}")
    return _BY_NAME[name].parse(value, source)
