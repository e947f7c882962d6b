"""Whether a context size suits the model and this machine, from the GGUF header, before loading.

The settings table checks what it can alone (``threads`` against the CPU cores); the context
size needs the model, so it is checked here when a model is about to load, with one line each:

- the model: a context past the training context (times the file's RoPE scaling factor) is text
  the model was never trained to read; Self-Extend (``--self-extend G``) is the way past it, and
  the engine checks how far that reaches;
- memory: the KV cache (each token's keys and values in every layer, at the cache type's size)
  must fit the memory available now, or the machine swaps or the kernel kills the engine. The
  weights are memory-mapped (the system counts them as reclaimable cache), so only the KV cache
  is weighed. The line names the largest context that fits.

llama.cpp rounds the context up to a multiple of :data:`CONTEXT_STEP`; :func:`context_note` is
the line that says so when it happened.
"""

from __future__ import annotations

from starling_tui.errors import ConfigError
from starling_tui.models.inspect import ModelFile

CONTEXT_STEP = 256  # llama.cpp pads the context to a multiple of this


def padded_context(n_ctx: int) -> int:
    """The context llama.cpp really allocates for ``n_ctx`` tokens."""
    return -(-n_ctx // CONTEXT_STEP) * CONTEXT_STEP


def context_note(requested: int | None, actual: int) -> str:
    """A line saying the context is not the size asked for ("" when it is, or none was asked)."""
    if not requested or requested == actual:
        return ""
    return (f"the context is {actual} tokens, not the {requested} asked: llama.cpp rounds it "
            f"up to a multiple of {CONTEXT_STEP}")


def cache_bytes_per_value(cache_type: str | None) -> float | None:
    """Bytes one key or value takes in a KV cache of ``cache_type`` (None: f16); None when the
    type is unknown (the engine then refuses it by name)."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        kind = GGMLQuantizationType[(cache_type or "f16").upper()]
    except KeyError:
        return None
    block, size = GGML_QUANT_SIZES[kind]
    return size / block


def kv_cache_bytes(model: ModelFile, n_ctx: int, cache_type: str | None = None) -> int | None:
    """The KV cache's size for a context of ``n_ctx`` tokens (None: not known for this file)."""
    per_value = cache_bytes_per_value(cache_type)
    if not model.kv_per_token or per_value is None:
        return None
    return int(model.kv_per_token * per_value * padded_context(n_ctx))


def check_context(
    model: ModelFile, n_ctx: int | None, *, cache_type: str | None = None, self_extend: int = 1,
    available: int | None = None,
) -> None:
    """Raise :class:`ConfigError` (one line) when a context of ``n_ctx`` tokens (None: the
    training context) does not suit ``model`` or ``available`` bytes of memory (None: unknown,
    not checked)."""
    size = n_ctx or model.context_length
    if not size:
        return
    reach = int(model.context_length * model.rope_scale)
    if n_ctx and reach and self_extend <= 1 and n_ctx > reach:
        raise ConfigError(
            f"ctx: a {n_ctx}-token context is beyond the {reach} tokens {model.name} was "
            f"trained on: use --ctx {reach} or less, or --self-extend G to reach further")
    needed = kv_cache_bytes(model, size, cache_type)
    if needed is None or available is None or needed <= available:
        return
    per_token = needed / padded_context(size)
    fits = int(available / per_token) // CONTEXT_STEP * CONTEXT_STEP
    advice = f"use --ctx {fits} or less" if fits else "free some memory"
    if fits and not cache_type:
        advice += " (or --kv-cache-type q8_0, half the size)"
    raise ConfigError(
        f"ctx: a {size}-token context needs {_size(needed)} for its KV cache "
        f"({cache_type or 'f16'}) but only {_size(available)} of memory is free: {advice}")


def _size(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.0f} MiB"
