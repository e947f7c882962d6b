"""One loaded model inside the worker process: load, prompt planning, generation, KV reuse.

Uses llama-cpp-python's low-level ``_internals`` (LlamaModel/LlamaContext/LlamaBatch/
LlamaSampler) rather than the ``Llama`` class, to control every parameter, the abort callback,
sampling and llama.cpp's own perf counters, and to keep the decode loop as lean as a bare one.

KV reuse: ``self.tokens`` always equals what sequence 0 of the KV cache holds. A new prompt
evaluates only what follows its common prefix with those tokens (``llama_memory_seq_rm`` drops
the rest). Cancellation: prompt evaluation runs with an abort callback polling the shared flag
(llama.cpp stops between graph nodes); decoding checks the flag before every token.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starling_tui.devices import backend_label, physical_cores
from starling_tui.engine.base import (
    ChatRequest,
    EngineError,
    EngineOptions,
    GenerationStats,
    ModelInfo,
    PromptPreview,
)
from starling_tui.engine.hooks import crash_point, token_delay, uncapped_batch
from starling_tui.engine.sampling import PieceDecoder, build_sampler
from starling_tui.engine.state_cache import StateCache
from starling_tui.engine.vocab import LlamaVocab
from starling_tui.llama_backend import (
    clear_recent_errors,
    gpu_offload_supported,
    llama,
    load_model,
    model_params,
)
from starling_tui.prompt.builder import PromptFormat, build_parts, resolve_format
from starling_tui.prompt.fit import FittedPrompt, PromptTooLong, fit_messages
from starling_tui.prompt.parts import encode_parts, render_parts

ALL_LAYERS = 999  # llama.cpp clamps to the model's layer count
ABORTED = 2  # llama_decode's return code when the abort callback fired


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def resolve_gpu_layers(requested: int | str) -> tuple[int, str]:
    """Layers to offload for ``auto`` | ``all`` | N, and a note saying why."""
    has_gpu = gpu_offload_supported()
    if requested in ("auto", "all"):
        if has_gpu:
            return ALL_LAYERS, f"{requested}: all layers offloaded to the GPU"
        return 0, f"{requested}: no GPU backend in this llama.cpp build, running on CPU"
    layers = int(requested)
    if layers > 0 and not has_gpu:
        return 0, f"{layers} layers requested but this llama.cpp build has no GPU backend"
    return layers, f"{layers} layers offloaded" if layers else "CPU only (0 layers offloaded)"


def default_threads() -> tuple[int, int]:
    """Decode threads (one per physical core, llama.cpp's default) and prompt threads (all CPUs)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return physical_cores(), cpus or 1


class Session:
    """A model (and, unless ``vocab_only``, a context) loaded in this process."""

    def __init__(self, options: EngineOptions, *, vocab_only: bool = False) -> None:
        self.options = options
        self.vocab_only = vocab_only
        n_gpu, self.gpu_note = (0, "vocabulary only") if vocab_only else resolve_gpu_layers(
            options.n_gpu_layers
        )
        params = model_params(
            n_gpu_layers=n_gpu, use_mmap=options.use_mmap, use_mlock=options.use_mlock,
            vocab_only=vocab_only, extra_bufts=options.extra_bufts,
        )
        crash_point("load")
        clear_recent_errors()
        try:
            self.model = load_model(options.model_path, params)
        except ValueError as exc:
            raise EngineError(_load_failure(options.model_path, n_gpu)) from exc
        lc = llama()
        self.n_gpu_layers = n_gpu
        self.vocab = LlamaVocab(self.model)
        self.tok = self.vocab.prompt_tokenizer()
        self.template = self._metadata("tokenizer.chat_template")
        self.n_ctx_train = int(self.model.n_ctx_train()) or int(
            self._metadata(f"{self._metadata('general.architecture')}.context_length") or 4096
        )
        self.tokens: list[int] = []
        self.ctx: Any = None
        self._token_delay = token_delay()
        self.n_ctx = options.n_ctx or self.n_ctx_train
        self.states: StateCache | None = None
        if not vocab_only:
            self._make_context(lc)
            if options.state_cache:
                self.states = StateCache(options, self.n_ctx, self.n_gpu_layers)

    def _metadata(self, key: str) -> str | None:
        lc = llama()
        buf = ctypes.create_string_buffer(1 << 16)
        n = lc.llama_model_meta_val_str(self.model.model, key.encode(), buf, len(buf))
        if n < 0:
            return None
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            lc.llama_model_meta_val_str(self.model.model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace")

    def _make_context(self, lc: Any) -> None:
        from llama_cpp import _internals

        opts = self.options
        threads, threads_batch = default_threads()
        cp = lc.llama_context_default_params()
        cp.n_ctx = self.n_ctx
        cp.n_batch = opts.n_batch
        cp.n_ubatch = opts.n_batch
        cp.n_seq_max = 1
        cp.n_threads = opts.n_threads or threads
        cp.n_threads_batch = opts.n_threads or threads_batch
        cp.no_perf = False  # llama.cpp's own counters prove KV reuse
        cp.flash_attn_type = {
            None: lc.LLAMA_FLASH_ATTN_TYPE_AUTO,
            True: lc.LLAMA_FLASH_ATTN_TYPE_ENABLED,
            False: lc.LLAMA_FLASH_ATTN_TYPE_DISABLED,
        }[opts.flash_attn]
        if opts.kv_cache_type:
            cp.type_k = cp.type_v = _ggml_type(opts.kv_cache_type)
        try:
            self.ctx = _internals.LlamaContext(model=self.model, params=cp, verbose=False)
        except ValueError as exc:
            raise EngineError(
                f"not enough memory for a {self.n_ctx}-token context with "
                f"{self.n_gpu_layers} layers on the GPU: try a smaller --ctx or fewer "
                "--n-gpu-layers"
            ) from exc
        self.n_ctx = int(self.ctx.n_ctx())
        # llama.cpp quietly lowers n_batch to the requested n_ctx (then rounds n_ctx up), and
        # aborts on a decode bigger than its real n_batch: chunk prompts by what it chose.
        self.n_batch = int(lc.llama_n_batch(self.ctx.ctx))
        if uncapped_batch():
            self.n_batch = opts.n_batch
        self.batch = _internals.LlamaBatch(
            n_tokens=self.n_batch, embd=0, n_seq_max=1, verbose=False
        )
        self._no_abort = lc.ggml_abort_callback()  # NULL: no per-node callback while decoding

    def info(self) -> ModelInfo:
        """What is loaded and how it runs."""
        path = self.options.model_path
        name = self._metadata("general.name") or Path(path).stem
        fmt = resolve_format("auto", self.tok, self.template)
        n_layers = int(llama().llama_model_n_layer(self.model.model))
        return ModelInfo(
            path=path, name=name, quant=_quant_name(llama().llama_model_ftype(self.model.model)),
            n_ctx_train=self.n_ctx_train, n_ctx=self.n_ctx,
            n_layers=n_layers,
            n_gpu_layers=min(self.n_gpu_layers, n_layers),  # llama.cpp counts the output layer too
            backend=backend_label(self.n_gpu_layers),
            template="chat_template" if fmt == "chat_template" else "openchat",
            gpu_note=self.gpu_note,
        )

    # -- prompts -------------------------------------------------------------------------

    def _format(self, request: ChatRequest) -> PromptFormat:
        return resolve_format(request.mode, self.tok, self.template)

    def plan(self, request: ChatRequest) -> tuple[FittedPrompt, PromptFormat]:
        """The prompt ids for ``request``, oldest turns dropped to leave room for a reply."""
        fmt = self._format(request)
        limit = request.sampling.max_tokens
        reserve = min(limit if limit else 512, self.n_ctx // 2)

        def build(messages: Sequence[Any]) -> list[int]:
            parts = build_parts(messages, fmt, self.tok, self.template)
            return encode_parts(parts, self.tok.encode)

        try:
            return fit_messages(request.messages, build, max(self.n_ctx - reserve, 1)), fmt
        except PromptTooLong as exc:
            raise EngineError(str(exc)) from exc
        except ValueError as exc:  # a chat template that failed to render
            raise EngineError(str(exc)) from exc

    def preview(self, request: ChatRequest) -> PromptPreview:
        """Exact ids and the rendered prompt (special tokens written out)."""
        fitted, fmt = self.plan(request)
        rendered = render_parts(build_parts(fitted.messages, fmt, self.tok, self.template))
        return PromptPreview(tuple(fitted.ids), rendered, fitted.dropped_messages)

    # -- evaluation ----------------------------------------------------------------------

    def _decode(self, tokens: Sequence[int], n_past: int) -> int:
        self.batch.set_batch(tokens, n_past, False)
        return int(llama().llama_decode(self.ctx.ctx, self.batch.batch))

    def _trim_to(self, n: int) -> None:
        """Forget KV entries from position ``n`` on."""
        if n < len(self.tokens):
            llama().llama_memory_seq_rm(self.ctx.memory, 0, n, -1)
            del self.tokens[n:]

    def _eval_prompt(self, prompt: list[int], cancelled: Callable[[], bool]) -> tuple[int, bool]:
        """Evaluate what the KV cache lacks of ``prompt``; return (reused tokens, cancelled)."""
        lc = llama()
        reused = min(common_prefix(self.tokens, prompt), len(prompt) - 1)
        self._trim_to(reused)
        callback = lc.ggml_abort_callback(lambda _data: bool(cancelled()))
        lc.llama_set_abort_callback(self.ctx.ctx, callback, None)
        try:
            crash_point("prompt")
            for start in range(reused, len(prompt), self.n_batch):
                chunk = prompt[start : start + self.n_batch]
                code = self._decode(chunk, start)
                if code == ABORTED or cancelled():
                    self._after_abort()
                    return reused, True
                if code != 0:
                    self._after_abort()
                    raise EngineError(f"llama.cpp failed to evaluate the prompt (code {code})")
                self.tokens.extend(chunk)
        finally:
            lc.llama_set_abort_callback(self.ctx.ctx, self._no_abort, None)
        return reused, False

    def _after_abort(self) -> None:
        """Resync ``self.tokens`` with what llama.cpp kept after an interrupted decode."""
        # Flushes llama.cpp's queued perf count too, so the next reply's counters start clean.
        llama().llama_synchronize(self.ctx.ctx)
        kept = int(llama().llama_memory_seq_pos_max(self.ctx.memory, 0)) + 1
        kept = min(kept, len(self.tokens))
        llama().llama_memory_seq_rm(self.ctx.memory, 0, kept, -1)
        del self.tokens[kept:]

    def generate(
        self, request: ChatRequest, emit: Callable[[str], None], cancelled: Callable[[], bool]
    ) -> GenerationStats:
        """Evaluate the prompt, then sample and ``emit`` text until a stop condition."""
        lc = llama()
        fitted, fmt = self.plan(request)
        prompt = fitted.ids
        stats = GenerationStats(prompt_tokens=len(prompt), dropped_messages=fitted.dropped_messages)
        lc.llama_perf_context_reset(self.ctx.ctx)
        start = time.perf_counter()
        restored = self._restore(request.conversation_id, prompt)
        reused, was_cancelled = self._eval_prompt(prompt, cancelled)
        stats.restored_tokens = min(restored, reused)
        stats.cached_tokens = reused - stats.restored_tokens
        stats.evaluated_tokens = len(prompt) - reused
        if was_cancelled:
            stats.evaluated_tokens = max(len(self.tokens) - reused, 0)
            stats.finish_reason = "cancelled"
            return stats
        # OpenChat prompts end "Assistant:" and the template writes ": " + reply, so the
        # reply's leading space belongs to the template (and re-renders identically).
        strip_space = fmt != "chat_template"
        stats.finish_reason = self._sample_loop(request, emit, cancelled, stats, start, strip_space)
        return stats

    def _restore(self, conversation_id: str | None, prompt: list[int]) -> int:
        """Load the conversation's saved state if it beats the live cache; tokens restored."""
        if self.states is None or not conversation_id:
            return 0
        live = common_prefix(self.tokens, prompt)
        if live >= len(prompt) - 1:
            return 0
        saved = self.states.load(conversation_id)
        if saved is None:
            return 0
        tokens, data = saved
        usable = min(common_prefix(tokens, prompt), len(prompt) - 1)
        if usable <= live:
            return 0
        lc = llama()
        lc.llama_memory_seq_rm(self.ctx.memory, 0, 0, -1)
        self.tokens = []
        buf = (ctypes.c_uint8 * len(data)).from_buffer(data)
        read = int(lc.llama_state_seq_set_data(self.ctx.ctx, buf, len(data), 0))
        n_kv = int(lc.llama_memory_seq_pos_max(self.ctx.memory, 0)) + 1
        if read == 0 or n_kv != len(tokens):
            lc.llama_memory_seq_rm(self.ctx.memory, 0, 0, -1)
            self.states.discard(self.states.path(conversation_id), "llama.cpp could not load it")
            return 0
        self.tokens = list(tokens)
        return usable

    def after_reply(self, request: ChatRequest, stats: GenerationStats) -> None:
        """Save the conversation's KV state once a reply completed (the caller has it already)."""
        if self.states is None or not request.conversation_id:
            return
        if stats.finish_reason not in ("stop", "length") or not self.tokens:
            return
        name = self._metadata("general.name") or Path(self.options.model_path).stem
        self.states.save(self.ctx.ctx, request.conversation_id, self.tokens, name)

    def _sample_loop(
        self,
        request: ChatRequest,
        emit: Callable[[str], None],
        cancelled: Callable[[], bool],
        stats: GenerationStats,
        start: float,
        strip_space: bool,
    ) -> Any:
        lc = llama()
        vocab = self.model.vocab
        sampler = build_sampler(request.sampling, self.model.n_vocab())
        decoder = PieceDecoder(vocab)
        limit = request.sampling.max_tokens
        first_at = 0.0
        at_start = strip_space
        reason = "stop"
        n = 0
        while True:
            if cancelled():
                reason = "cancelled"
                break
            token = sampler.sample(self.ctx, -1)
            if lc.llama_vocab_is_eog(vocab, token):
                break
            n += 1
            if n == 1:
                first_at = time.perf_counter()
                stats.ttft_s = first_at - start
            text = decoder.text(token)
            if at_start and text:
                text = text[1:] if text.startswith(" ") else text
                at_start = not text
            if text:
                emit(text)
            if n == 1:
                crash_point("token")
            if self._token_delay:
                time.sleep(self._token_delay)
            if limit is not None and n >= limit:
                reason = "length"
                break
            if len(self.tokens) + 1 >= self.n_ctx:
                reason = "length"
                break
            code = self._decode((token,), len(self.tokens))
            if code != 0:
                raise EngineError(f"llama.cpp failed to decode (code {code})")
            self.tokens.append(token)
        tail = decoder.flush()
        if tail:
            emit(tail)
        stats.completion_tokens = n
        if n > 1:
            stats.tokens_per_s = (n - 1) / max(time.perf_counter() - first_at, 1e-9)
        sampler.close()
        return reason

    def counters(self) -> dict[str, float]:
        """llama.cpp's own perf counters for the latest reply."""
        data = llama().llama_perf_context(self.ctx.ctx)
        return {"n_p_eval": data.n_p_eval, "n_eval": data.n_eval, "t_p_eval_ms": data.t_p_eval_ms,
                "t_eval_ms": data.t_eval_ms, "kv_tokens": len(self.tokens)}

    def close(self) -> None:
        """Finish saving states, then free the context and model now (not at GC)."""
        if self.states is not None:
            self.states.close()
            self.states = None
        if self.ctx is not None:
            self.ctx.close()
            self.ctx = None
        self.model.close()


def _ggml_type(name: str) -> int:
    lc = llama()
    value = getattr(lc, f"GGML_TYPE_{name.upper()}", None)
    if value is None:
        raise EngineError(f"unknown KV cache type {name!r} (try f16 or q8_0)")
    return int(value)


def _quant_name(ftype: int) -> str:
    try:
        import gguf

        return gguf.LlamaFileType(ftype).name.removeprefix("MOSTLY_")
    except (ImportError, ValueError):
        return f"ftype {ftype}"


def _load_failure(path: str, n_gpu_layers: int = 0) -> str:
    from starling_tui.llama_backend import recent_errors

    errors = recent_errors()
    name = Path(path).name
    if any("out of memory" in e.lower() or "failed to allocate" in e.lower() for e in errors):
        # A sound file that does not fit: say how to make it fit, not that it is damaged.
        return (
            f"not enough memory to load {name} with {n_gpu_layers} layers on the GPU: "
            "try fewer --n-gpu-layers (or a smaller quantization)"
        )
    detail = next((e for e in reversed(errors) if "failed to load" not in e), "")
    why = f": {detail}" if detail else ""
    return f"llama.cpp could not load {name} (damaged, truncated or unsupported GGUF){why}"
