"""One loaded model inside the worker process: load, prompt planning, generation, KV reuse.

Uses llama-cpp-python's low-level ``_internals`` (LlamaModel/LlamaContext/LlamaBatch/
LlamaSampler) rather than the ``Llama`` class, to control every parameter, the abort callback,
sampling and llama.cpp's own perf counters, and to keep the decode loop as lean as a bare one.
The pieces: :mod:`.context` (loading choices, the context), :mod:`.kv_sequence` (prompt
evaluation and KV reuse), :mod:`.reply_loop` (sampling), :mod:`.state_cache` (saved states).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starling_tui.engine.base import EngineOptions, GenerationStats, ModelInfo, PromptPreview
from starling_tui.engine.worker.context import create_context, quant_name
from starling_tui.engine.worker.hooks import NO_FAULTS, FaultPlan
from starling_tui.engine.worker.kv_sequence import KvSequence
from starling_tui.engine.worker.next_turn import next_turn_prefix, prefill
from starling_tui.engine.worker.reply_loop import ReplyLoop
from starling_tui.engine.worker.reply_room import room_maker
from starling_tui.engine.worker.self_extend import self_extend_for
from starling_tui.engine.worker.speculation import Speculation
from starling_tui.engine.worker.state_cache import StateCache
from starling_tui.engine.worker.threads import before_prompt
from starling_tui.engine.worker.tokenizer import prompt_tokenizer
from starling_tui.errors import EngineError
from starling_tui.llama.backend import (
    clear_recent_errors,
    gpu_offload_supported,
    llama,
    load_model,
    model_params,
)
from starling_tui.llama.context import load_failure, model_metadata, resolve_gpu_layers
from starling_tui.llama.devices import backend_label
from starling_tui.llama.version import check_version
from starling_tui.llama.vocab import LlamaVocab
from starling_tui.models.capacity import context_note
from starling_tui.prompt.builder import PromptFormat, build_parts, resolve_format
from starling_tui.prompt.fit import FittedPrompt
from starling_tui.prompt.formats import choose_format, strips_reply_space
from starling_tui.prompt.parts import render_parts
from starling_tui.prompt.plan import plan_prompt
from starling_tui.types import ChatRequest

# Replies whose text is the model's own up to a stop it chose or a limit (the cache then holds
# exactly that reply): their KV state is saved and the next turn's header prepared. A reply the
# loop guard stopped ("repetition") ends the same way as one cut at max_tokens.
COMPLETED = ("stop", "length", "repetition")


class Session:
    """A model (and, unless ``vocab_only``, a context) loaded in this process."""

    def __init__(
        self, options: EngineOptions, *, vocab_only: bool = False, faults: FaultPlan = NO_FAULTS,
        speculation: Speculation | None = None,
    ) -> None:
        check_version()  # before llama.cpp loads: one line unless a verified llama-cpp-python
        self.options = options
        self.faults = faults
        # drafts from the conversation (a test hands in its own); None when ``speculative``
        # is off: the drafter's index and the learnt costs outlive each reply
        if speculation is None and options.speculative == "auto" and not vocab_only:
            speculation = Speculation()
        self.speculation = speculation
        self._prompt_counters: dict[str, float] | None = None
        self.vocab_only = vocab_only
        n_gpu, self.gpu_note = (0, "vocabulary only") if vocab_only else resolve_gpu_layers(
            options.n_gpu_layers
        )
        params = model_params(
            n_gpu_layers=n_gpu, use_mmap=options.use_mmap, use_mlock=options.use_mlock,
            vocab_only=vocab_only, extra_bufts=options.extra_bufts,
        )
        faults.crash_point("load")
        clear_recent_errors()
        try:
            self.model = load_model(options.model_path, params)
        except ValueError as exc:
            raise EngineError(load_failure(options.model_path, n_gpu)) from exc
        self.n_gpu_layers = n_gpu
        self.vocab = LlamaVocab(self.model)
        self.tok = prompt_tokenizer(self.vocab)
        self.template = self._metadata("tokenizer.chat_template")
        self.format = choose_format(self.tok, self.template, self._metadata(
            "general.architecture") or "", options.chat_format)
        self.n_ctx_train = int(self.model.n_ctx_train()) or int(
            self._metadata(f"{self._metadata('general.architecture')}.context_length") or 4096
        )
        # llama.cpp pads the context to a multiple of 256; a vocabulary-only load (``tokens``)
        # must plan with the window ``generate`` will have, or it would drop other turns.
        requested = options.n_ctx or self.n_ctx_train
        self.n_ctx = -(-requested // 256) * 256
        self.kv: KvSequence | None = None
        # The latest completed reply (request, text) and llama.cpp's counters at its end.
        self._last_reply: tuple[ChatRequest, str] | None = None
        self._reply_counters: dict[str, float] | None = None
        self.states: StateCache | None = None
        extend = self_extend_for(options.self_extend, options.self_extend_window,
                                 self.n_ctx, self.n_ctx_train)  # bad settings: one line
        if not vocab_only:
            ctx, n_batch = create_context(self.model, options, requested, n_gpu,
                                          uncapped_batch=faults.uncapped_batch)
            self.kv = KvSequence(ctx, n_batch, faults, extend=extend,
                                 allow_shift=options.context_overflow == "shift",
                                 boundary=self.vocab.boundary_ids().__contains__)
            self.n_ctx = self.kv.n_ctx
            if options.state_cache:
                self.states = StateCache(options, self.n_ctx, self.n_gpu_layers, faults)

    @property
    def tokens(self) -> list[int]:
        """What the KV cache holds (empty for a vocabulary-only load)."""
        return self.kv.tokens if self.kv is not None else []

    def _context(self) -> KvSequence:
        if self.kv is None:
            raise EngineError("only the vocabulary is loaded: load the model to generate")
        return self.kv

    def _metadata(self, key: str) -> str | None:
        return model_metadata(self.model, key)

    def info(self) -> ModelInfo:
        """What is loaded and how it runs."""
        path = self.options.model_path
        name = self._metadata("general.name") or Path(path).stem
        fmt = resolve_format("auto", self.tok, self.template, self.format.format)
        n_layers = int(llama().llama_model_n_layer(self.model.model))
        return ModelInfo(
            path=path, name=name, quant=quant_name(llama().llama_model_ftype(self.model.model)),
            n_ctx_train=self.n_ctx_train, n_ctx=self.n_ctx,
            n_layers=n_layers,
            n_gpu_layers=min(self.n_gpu_layers, n_layers),  # llama.cpp counts the output layer too
            backend=backend_label(self.n_gpu_layers),
            template=fmt, template_note=self.format.note,
            gpu_note=self.gpu_note, gpu_build=gpu_offload_supported(),
            context_note=context_note(self.options.n_ctx, self.n_ctx),
        )

    # -- prompts -------------------------------------------------------------------------

    def plan(self, request: ChatRequest, room: int | None = None
             ) -> tuple[FittedPrompt, PromptFormat]:
        """The prompt ids for ``request``, oldest turns left out as ``context_overflow`` says
        (``room``: tokens kept free after it; default: the reply's)."""
        try:
            return plan_prompt(request, self.tok, self.template, self.n_ctx,
                               policy=self.options.context_overflow,
                               shift_share=self.options.context_shift_share, room=room,
                               without_template=self.format.format)
        except ValueError as exc:  # PromptTooLong, or a chat template that failed to render
            raise EngineError(str(exc)) from exc

    def preview(self, request: ChatRequest) -> PromptPreview:
        """Exact ids and the rendered prompt (special tokens written out)."""
        fitted, fmt = self.plan(request)
        rendered = render_parts(build_parts(fitted.messages, fmt, self.tok, self.template))
        return PromptPreview(tuple(fitted.ids), rendered, fitted.dropped_messages,
                             format_note=self.format.note)

    # -- generation ----------------------------------------------------------------------

    def generate(
        self, request: ChatRequest, emit: Callable[[str], None], cancelled: Callable[[], bool],
        live: Callable[[GenerationStats], None] | None = None,
    ) -> GenerationStats:
        """Evaluate the prompt, then sample and ``emit`` text until a stop condition.

        ``live`` is handed the reply's figures as soon as they exist; they change as the
        reply goes (the prompt read so far, each token), so the caller can show progress.
        """
        kv = self._context()
        fitted, fmt = self.plan(request)
        prompt = fitted.ids
        stats = GenerationStats(prompt_tokens=len(prompt), dropped_messages=fitted.dropped_messages)
        if live is not None:
            live(stats)
        # llama.cpp adds queued tokens to its counters at the next synchronize: flush the
        # previous work (e.g. the next-turn prefill) before resetting them for this reply.
        llama().llama_synchronize(kv.ctx.ctx)
        llama().llama_perf_context_reset(kv.ctx.ctx)
        start = time.perf_counter()
        restored = 0
        if self.states is not None and request.conversation_id:
            restored = kv.restore(self.states, request.conversation_id, prompt)
        before_prompt(kv.ctx)  # thread counts from the CPU load while the user typed
        reused, was_cancelled = kv.eval_prompt(prompt, _counting_read(kv, stats, cancelled))
        stats.restored_tokens = min(restored, reused)
        stats.cached_tokens = reused - stats.restored_tokens
        stats.evaluated_tokens = len(prompt) - reused
        if was_cancelled:
            stats.evaluated_tokens = max(len(kv.tokens) - reused, 0)
            stats.finish_reason = "cancelled"
            return stats
        # llama.cpp counts a verified draft's batch as prompt work: keep the prompt's own count
        llama().llama_synchronize(kv.ctx.ctx)
        self._prompt_counters = self._read_counters()
        if self.speculation is not None:
            self.speculation.begin(request, fitted.messages, prompt, self.tok.encode)
        pieces: list[str] = []
        room = room_maker(lambda r: self.plan(r, room=1)[0], kv, request,
                          lambda: "".join(pieces), stats)
        # OpenChat prompts end "Assistant:" and the template writes ": " + reply, so the
        # reply's leading space belongs to the template (and re-renders identically).
        loop = ReplyLoop(kv, self.model, strip_space=strips_reply_space(fmt), faults=self.faults,
                         make_room=room, speculation=self.speculation)

        def keep_and_emit(text: str) -> None:
            pieces.append(text)
            emit(text)

        stats.finish_reason = loop.run(request, keep_and_emit, cancelled, stats, start)
        self._reply_counters = self._counters_since_prompt()
        self._last_reply = (request, "".join(pieces)) if stats.finish_reason in (
            COMPLETED) else None
        return stats

    def prefill_next_turn(self, interrupted: Callable[[], bool]) -> int:
        """Evaluate the next user turn's header after a completed reply (see :mod:`.next_turn`).

        Returns the tokens evaluated (0 when there was nothing to do or ``interrupted``).
        """
        if self._last_reply is None or self.kv is None:
            return 0
        request, reply = self._last_reply
        self._last_reply = None
        try:
            prefix = next_turn_prefix(lambda r: self.plan(r)[0], request, reply)
        except EngineError:  # the follow-up would not fit at all: nothing to prepare
            return 0
        return prefill(self.kv, prefix, interrupted)

    def after_reply(self, request: ChatRequest, stats: GenerationStats) -> None:
        """Save the conversation's KV state once a reply completed (the caller has it already)."""
        if self.states is None or not request.conversation_id:
            return
        if stats.finish_reason not in COMPLETED or not self.tokens:
            return
        name = self._metadata("general.name") or Path(self.options.model_path).stem
        kv = self._context()
        kv.settle()  # no K-shift may be pending in a state copied out
        self.states.save(kv.ctx.ctx, request.conversation_id, self.tokens, name, kv.saved_meta())

    def counters(self) -> dict[str, float]:
        """llama.cpp's own perf counters for the latest reply (as they were at its end, so
        the next turn's prefill does not count)."""
        return self._reply_counters or self._read_counters()

    def _counters_since_prompt(self) -> dict[str, float]:
        """The counters now, with the prompt's figures as they were when it was evaluated and
        the verified drafts' batches (which llama.cpp counts as prompt work) apart."""
        counters = self._read_counters()
        prompt = self._prompt_counters
        if prompt is not None:
            counters["n_verify"] = counters["n_p_eval"] - prompt["n_p_eval"]
            counters["t_verify_ms"] = counters["t_p_eval_ms"] - prompt["t_p_eval_ms"]
            counters["n_p_eval"] = prompt["n_p_eval"]
            counters["t_p_eval_ms"] = prompt["t_p_eval_ms"]
        return counters

    def _read_counters(self) -> dict[str, float]:
        data = llama().llama_perf_context(self._context().ctx.ctx)
        return {"n_p_eval": data.n_p_eval, "n_eval": data.n_eval, "t_p_eval_ms": data.t_p_eval_ms,
                "t_eval_ms": data.t_eval_ms, "kv_tokens": len(self.tokens)}

    def close(self) -> None:
        """Finish saving states, then free the context and model now (not at GC)."""
        if self.states is not None:
            self.states.close()
            self.states = None
        if self.kv is not None:
            self.kv.ctx.close()
            self.kv = None
        self.model.close()



def _counting_read(kv: KvSequence, stats: GenerationStats,
                   cancelled: Callable[[], bool]) -> Callable[[], bool]:
    """``cancelled``, also keeping ``stats`` up to date as the prompt is read: it is polled
    between the prompt's batches, so what the cache holds then is the progress (the first
    poll finds what was reused; the final split is set when reading ends)."""
    reused: int | None = None

    def check() -> bool:
        nonlocal reused
        if reused is None:
            reused = len(kv.tokens)
            stats.cached_tokens = reused
        stats.evaluated_tokens = max(len(kv.tokens) - reused, 0)
        return cancelled()

    return check
