"""Speculative decoding against plain decoding: the same reply, and a cache that holds no draft.

The verify/accept/rollback logic runs against a scripted drafter that knows the plain reply and
proposes it whole, never, or with a wrong token in each draft, and a policy that verifies every
draft it is given. On an F32 model with an F32 KV cache on the CPU (batch and one-token
arithmetic agree to ~1e-6) the reply must equal plain decoding's token for token, with a
temperature too, and the KV cache must end exactly as plain decoding leaves it. The real
drafter and cost model run on SmolLM2 (a copying prompt, and ``ask --stats``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from test_engine_shift_se import assert_exact

from starling_tui.engine.base import EngineOptions, GenerationStats
from starling_tui.engine.worker.drafter import NO_DRAFT, Draft
from starling_tui.engine.worker.speculation import Speculation
from starling_tui.types import ChatMessage, ChatRequest, SamplingOptions

pytestmark = pytest.mark.slow

QUESTION = ChatRequest((ChatMessage("system", "You answer."),
                        ChatMessage("user", "Tell me about the river and the old mill.")),
                       sampling=SamplingOptions(max_tokens=40, loop_guard=False))


@pytest.fixture(scope="module")
def f32_gguf(converted_gguf: Callable[[str], Path]) -> Path:
    """The tiny two-layer checkpoint as an F32 GGUF."""
    return converted_gguf("f32")


@dataclass
class Script:
    """A drafter that proposes the plain reply's next tokens; ``wrong(i)`` spoils the token
    at reply index ``i`` (``i`` counts the reply's tokens from 0); ``after`` follows the reply."""

    reply: Sequence[int] = ()
    wrong: Callable[[int], bool] = lambda _i: False
    after: Sequence[int] = ()
    decided: list[int] = field(default_factory=list)

    def start(self, context: Sequence[int]) -> None:
        self.decided = []

    def append(self, token: int) -> None:
        self.decided.append(token)

    def propose(self, limit: int) -> Draft:
        at = len(self.decided)
        known = [*self.reply, *self.after][at:at + limit]
        if not known:
            return NO_DRAFT
        return Draft(8, tuple(t + 1 if self.wrong(at + j) else t for j, t in enumerate(known)))


@dataclass
class Verify:
    """A policy that verifies every draft whole (up to ``most`` tokens) and records each step;
    ``check`` runs after every verified draft (the cache is already cut back then)."""

    most: int = 6
    batches: list[int] = field(default_factory=list)
    drafts: list[tuple[int, int]] = field(default_factory=list)
    guesses: list[bool] = field(default_factory=list)  # proposals not drafted: held or not
    check: Callable[[], None] = lambda: None

    def choose(self, match: int, available: int) -> int:
        return min(self.most, available)

    def observe_batch(self, n: int, seconds: float) -> None:
        self.batches.append(n)

    def observe_draft(self, match: int, drafted: int, accepted: int) -> None:
        self.drafts.append((drafted, accepted))
        self.check()

    def observe_guess(self, match: int, held: bool) -> None:
        self.guesses.append(held)


@dataclass
class Run:
    """One reply: its text, figures and the tokens the cache held after it."""

    text: str
    stats: GenerationStats
    cache: list[int]
    prompt: list[int]

    @property
    def reply_ids(self) -> list[int]:
        """The reply's tokens in the cache (all but the last)."""
        return self.cache[len(self.prompt):]


def options(path: Path, **changes: Any) -> EngineOptions:
    values = {"model_path": str(path), "n_ctx": 512, "n_threads": 2, "state_cache": False,
              "kv_cache_type": "f32", "flash_attn": False, "n_gpu_layers": 0, **changes}
    return EngineOptions(**values)  # type: ignore[arg-type]


def session(path: Path, speculation: Speculation | None = None, **changes: Any) -> Any:
    from starling_tui.engine.worker.session import Session

    mode = "off" if speculation is None else "auto"
    return Session(options(path, speculative=mode, **changes), speculation=speculation)


def reply(s: Any, request: ChatRequest = QUESTION,
          cancelled: Callable[[], bool] = lambda: False) -> Run:
    pieces: list[str] = []
    stats = s.generate(request, pieces.append, cancelled)
    return Run("".join(pieces), stats, list(s.tokens), s.plan(request)[0].ids)


def plain(path: Path, request: ChatRequest = QUESTION, **changes: Any) -> Run:
    s = session(path, **changes)
    try:
        return reply(s, request)
    finally:
        s.close()


def speculative(path: Path, drafter: Any, policy: Any, request: ChatRequest = QUESTION,
                **changes: Any) -> Run:
    s = session(path, Speculation(drafter, policy), **changes)
    try:
        return reply(s, request)
    finally:
        s.close()


def assert_same(got: Run, want: Run) -> None:
    assert got.text == want.text
    assert got.cache == want.cache  # what the cache holds after the reply: the same tokens
    for name in ("completion_tokens", "finish_reason", "dropped_messages", "window_full"):
        assert getattr(got.stats, name) == getattr(want.stats, name), name


@pytest.mark.parametrize("case", ["all", "none", "partial"])
def test_greedy_reply_equals_plain_decoding_whatever_the_drafts(f32_gguf: Path, case: str) -> None:
    want = plain(f32_gguf)
    wrong = {"all": lambda _i: False, "none": lambda _i: True,
             "partial": lambda i: i % 4 == 2}[case]
    policy = Verify()
    got = speculative(f32_gguf, Script(want.reply_ids, wrong), policy)
    assert_same(got, want)
    drafted = sum(d for d, _ in policy.drafts)
    accepted = sum(a for _, a in policy.drafts)
    assert (got.stats.drafted_tokens, got.stats.accepted_tokens) == (drafted, accepted)
    assert drafted >= 20
    if case == "all":
        assert accepted == drafted
        assert len(policy.batches) < want.stats.completion_tokens / 3  # few steps
    elif case == "none":
        assert accepted == 0
    else:
        assert 0 < accepted < drafted


def test_a_temperature_keeps_the_seeded_reply(f32_gguf: Path) -> None:
    """Each decided token costs the sampler chain one draw, as in plain decoding: a seeded
    reply is the same reply, whether drafts are accepted or rejected."""
    sampling = SamplingOptions(temperature=0.9, top_k=40, top_p=0.95, min_p=0.02,
                               repeat_penalty=1.1, seed=7, max_tokens=40, loop_guard=False)
    request = ChatRequest(QUESTION.messages, sampling=sampling)
    want = plain(f32_gguf, request)
    assert want.text != plain(f32_gguf, QUESTION).text  # it is sampled, not greedy
    for wrong in (lambda _i: False, lambda i: i % 3 == 1):
        policy = Verify()
        got = speculative(f32_gguf, Script(want.reply_ids, wrong), policy, request)
        assert_same(got, want)
        assert got.stats.accepted_tokens > 0


def test_proposals_not_drafted_are_judged_by_the_next_token(f32_gguf: Path) -> None:
    """A policy that drafts nothing still learns: each proposal is judged, as a one-token
    draft, by the token decided after it (right where the script is right, wrong where not)."""
    want = plain(f32_gguf)
    policy = Verify(most=0)
    got = speculative(f32_gguf, Script(want.reply_ids, lambda i: i % 3 == 0), policy)
    assert_same(got, want)
    assert got.stats.drafted_tokens == 0 and set(policy.batches) == {1}
    # the proposal made after reply token i guesses token i + 1; none guesses the limit's
    # token (it would never be decoded)
    n = want.stats.completion_tokens
    assert want.stats.finish_reason == "length"
    assert policy.drafts == []
    assert policy.guesses == [(i + 1) % 3 != 0 for i in range(n - 2)]


def test_max_tokens_inside_a_draft(f32_gguf: Path) -> None:
    request = ChatRequest(QUESTION.messages, sampling=SamplingOptions(max_tokens=9,
                                                                      loop_guard=False))
    full = plain(f32_gguf)
    want = plain(f32_gguf, request)
    policy = Verify(most=16)
    got = speculative(f32_gguf, Script(full.reply_ids), policy, request)
    assert_same(got, want)
    assert got.stats.finish_reason == "length" and got.stats.completion_tokens == 9
    # the limit's token is never decoded: 8 reply tokens in the cache, in two steps at most
    assert len(got.reply_ids) == 8 and sum(policy.batches) <= 9


def test_cancel_between_accepted_tokens(f32_gguf: Path) -> None:
    want = plain(f32_gguf)
    policy = Verify(most=8)
    s = session(f32_gguf, Speculation(Script(want.reply_ids), policy))
    try:
        pieces: list[str] = []
        stats = s.generate(QUESTION, pieces.append, lambda: len(pieces) >= 5)
        assert stats.finish_reason == "cancelled" and stats.completion_tokens == 5
        assert want.text.startswith("".join(pieces))
        # the cache holds the five tokens handled, not the accepted drafts after them
        prompt = s.plan(QUESTION)[0].ids
        assert s.tokens == [*prompt, *want.reply_ids[:5]]
        assert_cache_matches_map(s)
        again = reply(s)  # the next reply reuses that cache and still gives the plain reply
        assert_same(again, want)
    finally:
        s.close()


def test_rejected_drafts_leave_the_kv_cache(one_layer_gguf: Path) -> None:
    """After every verified draft the cache holds exactly the accepted tokens at the map's
    positions: a key left behind by a rejected draft changes the next token's logits (on this
    one-layer F32 model they must equal a fresh evaluation) or the highest position held."""
    want = plain(one_layer_gguf)
    holder: dict[str, Any] = {}
    policy = Verify(most=7, check=lambda: assert_cache_matches_map(holder["s"]))
    s = session(one_layer_gguf, Speculation(Script(want.reply_ids, lambda i: i % 3 == 0), policy))
    holder["s"] = s
    try:
        got = reply(s)
        assert_same(got, want)
        assert got.stats.drafted_tokens > got.stats.accepted_tokens > 0
        assert_exact(s, one_layer_gguf)
    finally:
        s.close()


def assert_cache_matches_map(s: Any) -> None:
    from starling_tui.llama.backend import llama

    top = int(llama().llama_memory_seq_pos_max(s.kv.ctx.memory, 0))
    assert top == s.kv.map.last() and len(s.kv.map) == len(s.kv.tokens)


def test_self_extend_with_drafts(one_layer_gguf: Path) -> None:
    """Drafts never cross a block and a block is grouped only once its drafts are judged."""
    extend = {"self_extend": 2, "self_extend_window": 32, "n_ctx": 1024}
    request = ChatRequest(QUESTION.messages, sampling=SamplingOptions(max_tokens=120,
                                                                      loop_guard=False))
    want = plain(one_layer_gguf, request, **extend)
    policy = Verify(most=12)
    s = session(one_layer_gguf, Speculation(Script(want.reply_ids, lambda i: i % 5 == 3),
                                            policy), **extend)
    try:
        got = reply(s, request)
        assert_same(got, want)
        assert s.kv.map.tail > len(got.prompt)  # blocks of the reply itself were grouped
        assert got.stats.accepted_tokens > 0
        assert_exact(s, one_layer_gguf)
    finally:
        s.close()


def test_a_reply_that_fills_the_window_shifts_as_without_drafts(one_layer_gguf: Path) -> None:
    from test_engine_reply_room import N_CTX, conversation

    request = ChatRequest(conversation(5), sampling=SamplingOptions(max_tokens=300,
                                                                    loop_guard=False))
    window = {"n_ctx": N_CTX, "context_overflow": "shift"}
    want = plain(one_layer_gguf, request, **window)
    assert want.stats.dropped_messages == 10 and want.stats.window_full  # it did shift
    # the reply's tokens (the cache no longer starts with the prompt): recorded undrafted
    recorder = Script()
    assert_same(speculative(one_layer_gguf, recorder, Verify(), request, **window), want)
    script = Script(recorder.decided, lambda i: i % 6 == 4)
    got = speculative(one_layer_gguf, script, Verify(most=8), request, **window)
    assert_same(got, want)
    assert got.stats.accepted_tokens > 0


def test_an_end_of_turn_inside_a_draft_ends_the_reply(smollm2_gguf: Path) -> None:
    """SmolLM2 ends its replies itself. Drafts run past the end of turn: the reply stops
    there and the cache holds neither the end of turn nor what was drafted after it."""
    request = ChatRequest((ChatMessage("user", "Reply with one word: the capital of France?"),),
                          sampling=SamplingOptions(max_tokens=200))
    # the reference: the speculative path without drafts (SmolLM2 is quantized: a batch's
    # arithmetic differs slightly from one token's, so plain decoding is not the reference)
    recorder = Script()
    alone = speculative(smollm2_gguf, recorder, Verify(), request, kv_cache_type=None)
    assert alone.stats.finish_reason == "stop" and alone.stats.drafted_tokens == 0
    end = smollm2_eog(smollm2_gguf)
    policy = Verify(most=64)
    got = speculative(smollm2_gguf, Script(recorder.decided, after=[end, 11, 12, 13]), policy,
                      request, kv_cache_type=None)
    assert got.stats.finish_reason == "stop"
    # one draft, once a settled one-token step has been timed (the three steps after the
    # prompt settle, the fourth is timed: the draft comes after the reply's fifth token): the
    # rest of the reply, the end of turn (accepted, and decoded) and three more (rejected)
    n = len(recorder.decided)
    assert n > 5
    assert policy.drafts == [(n - 5 + 4, n - 5 + 1)]
    assert got.text == alone.text and got.cache == alone.cache
    assert end not in got.reply_ids and got.stats.completion_tokens == len(got.reply_ids)


def smollm2_eog(path: Path) -> int:
    """The end-of-turn token SmolLM2's replies end with (``<|im_end|>``)."""
    from starling_tui.engine.worker.session import Session
    from starling_tui.llama.backend import llama

    s = Session(options(path, kv_cache_type=None), vocab_only=True)
    try:
        return int(llama().llama_vocab_eos(s.model.vocab))  # its EOT is <|endoftext|>
    finally:
        s.close()
