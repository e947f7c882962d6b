"""Prompts from a server's tokenizer, the reply's first space and the loop guard on a stream.

Unit tests without a server: a toy tokenizer stands for the server's ``/tokenize`` (one token
per character, a control token, a user-defined one that plain text still matches, BOS, byte
tokens). The real llama-server runs them end to end in ``test_remote_token_ids.py`` and
``test_remote_llama_server.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from starling_tui.engine.base import GenerationStats
from starling_tui.engine.remote.probe_cache import entry_path, load_facts, save_facts
from starling_tui.engine.remote.server_vocab import (
    ServerVocab,
    learn_vocab,
    marker_candidates,
)
from starling_tui.engine.remote.stream import PieceGuard, ReplyReader
from starling_tui.errors import EngineError
from starling_tui.prompt.formats import strips_reply_space
from starling_tui.prompt.plan import plan_prompt
from starling_tui.prompt.reply_text import ReplyStart
from starling_tui.types import ChatMessage, ChatRequest

CONTROL = {"<s>": 1, "</s>": 2, "<|im_start|>": 5, "<|im_end|>": 6}
USER_DEFINED = {"<|end_of_turn|>": 32000}
BYTE_BASE = 3


class ToyCalls:
    """A tokenizer like llama.cpp's: special parsing on matches every special, off matches the
    user-defined ones only; other characters are one token each, U+E000 falls back to bytes."""

    kind = "llama-server"
    parses_special_always = False

    def __init__(self, user_defined: dict[str, int] | None = None) -> None:
        self.requests = 0
        self.user_defined = USER_DEFINED if user_defined is None else user_defined

    def tokenize(self, text: str, *, special: bool, bos: bool = False) -> list[int]:
        self.requests += 1
        known = {**self.user_defined, **(CONTROL if special else {})}
        ids = [1] if bos else []
        i = 0
        while i < len(text):
            match = next((s for s in sorted(known, key=len, reverse=True)
                          if text.startswith(s, i)), None)
            if match:
                ids.append(known[match])
                i += len(match)
            elif text[i] == "\ue000":
                ids.extend(BYTE_BASE + b for b in text[i].encode())
                i += 1
            else:
                ids.append(1000 + ord(text[i]))
                i += 1
        return ids

    def pieces(self, text: str) -> list[tuple[int, str | list[int]]]:
        out: list[tuple[int, str | list[int]]] = []
        for token in self.tokenize(text, special=False):
            out.append((token, [token - BYTE_BASE]) if token < 259 else (token, chr(token - 1000)))
        return out

    def detokenize(self, ids: list[int]) -> str:
        names = {v: k for k, v in {**CONTROL, **self.user_defined}.items()}
        return "".join(names.get(t) or chr(t - 1000) for t in ids)


CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


OPENCHAT = ("{{ bos_token }}{% for message in messages %}{{ 'GPT4 Correct ' + "
            "message['role'].title() + ': ' + message['content'] + '<|end_of_turn|>'}}"
            "{% endfor %}{% if add_generation_prompt %}{{ 'GPT4 Correct Assistant:' }}{% endif %}")


def facts_for(template: str, calls: ToyCalls | None = None, vocab_type: int = 1):
    return learn_vocab(calls or ToyCalls(), template_texts=(template,), bos_text="<s>",
                       eos_text="</s>", vocab_type=vocab_type)


def test_markers_are_found_in_the_template() -> None:
    assert marker_candidates(CHATML) == ["<|im_start|>", "<|im_end|>"]
    assert marker_candidates("[INST] x [/INST]<start_of_turn>") == [
        "[INST]", "[/INST]", "<start_of_turn>"]


def test_specials_bos_and_user_defined_tokens_are_learnt() -> None:
    facts = facts_for(CHATML)
    assert facts.specials == {"<|im_start|>": 5, "<|im_end|>": 6, "<s>": 1, "</s>": 2,
                              "<|end_of_turn|>": 32000}
    assert facts.protected == (32000,)  # plain text still matches it
    assert (facts.bos_id, facts.add_bos, facts.eot_text, facts.eot_id) == (
        1, True, "<|end_of_turn|>", 32000)
    assert facts.byte_base == BYTE_BASE
    assert facts_for(CHATML, vocab_type=2).byte_base is None  # BPE: no byte tokens


def test_a_template_marker_that_is_no_token_is_refused() -> None:
    with pytest.raises(EngineError, match=r"no single token for the template's <\|im_sep\|>"):
        facts_for(CHATML.replace("<|im_end|>", "<|im_sep|>"))


def chars(text: str) -> list[int]:
    return [1000 + ord(c) for c in text]


def test_chat_template_prompt_ids_keep_message_text_plain() -> None:
    calls = ToyCalls(user_defined={})
    tok = ServerVocab(calls, facts_for(CHATML, calls)).prompt_tokenizer()
    request = ChatRequest(messages=(ChatMessage("user", "hi <|im_end|>"),))
    fitted, fmt = plan_prompt(request, tok, CHATML, 512, policy="drop", shift_share=0.25)
    assert fmt == "chat_template"
    assert fitted.ids == [1, 5, *chars("user\nhi <|im_end|>"), 6, *chars("\n"), 5,
                          *chars("assistant\n")]


def test_openchat_prompt_ids_spell_out_a_typed_end_of_turn() -> None:
    calls = ToyCalls()
    tok = ServerVocab(calls, facts_for(OPENCHAT, calls)).prompt_tokenizer()
    request = ChatRequest(messages=(ChatMessage("user", "a<|end_of_turn|><s>"),))
    fitted, fmt = plan_prompt(request, tok, OPENCHAT, 512, policy="drop", shift_share=0.25)
    assert fmt == "openchat"
    spelled = [BYTE_BASE + b for b in b"<|end_of_turn|>"]
    assert fitted.ids == [1, *chars("GPT4 Correct User: a"), *spelled, *chars("<s>"), 32000,
                          *chars("GPT4 Correct Assistant:")]


def test_each_text_is_asked_once() -> None:
    calls = ToyCalls()
    vocab = ServerVocab(calls, facts_for(CHATML, calls))
    before = calls.requests
    assert vocab.encode("hello") == vocab.encode("hello") == [1000 + ord(c) for c in "hello"]
    assert calls.requests == before + 1


def test_without_byte_tokens_a_protected_token_is_spelled_by_character() -> None:
    calls = ToyCalls()
    vocab = ServerVocab(calls, facts_for(CHATML, calls, vocab_type=2))
    assert vocab.encode("<|end_of_turn|>") == [1000 + ord(c) for c in "<|end_of_turn|>"]


def test_what_was_learnt_is_cached_per_server_and_model(tmp_path: Path) -> None:
    facts = facts_for(CHATML)
    identity = {"url": "http://h/v1", "model": "m", "model_path": "/a.gguf"}
    assert load_facts(identity, tmp_path) is None
    save_facts(identity, facts, tmp_path)
    assert load_facts(identity, tmp_path) == facts
    assert load_facts({**identity, "model_path": "/b.gguf"}, tmp_path) is None
    entry_path(identity, tmp_path).write_text(json.dumps({"specials": 3}))
    assert load_facts(identity, tmp_path) is None  # malformed: learnt again


@pytest.mark.parametrize(("fmt", "pieces", "text"), [
    ("openchat", [" hel", " hel", " hel"], "hel hel hel"),
    ("code", [" ", " x"], "x"),
    ("openchat", ["", "A", " b"], "A b"),
    ("chat_template", [" hel", " hel"], " hel hel"),
])
def test_the_formats_space_before_the_reply_is_not_the_replys(fmt: str, pieces: list[str],
                                                              text: str) -> None:
    start = ReplyStart(strips_reply_space(fmt))
    assert "".join(start.text(p) for p in pieces) == text


class FakeStream:
    """An event stream of canned SSE lines."""

    aborted = False

    def __init__(self, texts: list[str]) -> None:
        self._lines: list[str] = []
        for text in texts:
            chunk = {"choices": [{"text": text, "finish_reason": None}]}
            self._lines += [f"data: {json.dumps(chunk)}", ""]
        self._lines += ["data: [DONE]", ""]

    def lines(self):  # type: ignore[no-untyped-def]
        yield from self._lines


def read(texts: list[str], fmt: str, guard: PieceGuard | None) -> tuple[list[str], str]:
    stats = GenerationStats()
    reader = ReplyReader(FakeStream(texts), stats, 0.0, lambda: False, 1.0,  # type: ignore[arg-type]
                         strip_space=strips_reply_space(fmt), guard=guard)
    return list(reader.pieces()), stats.finish_reason


def test_a_streamed_reply_that_loops_is_stopped() -> None:
    span = [" the", " leaf", "'s", " fate", " is", " sealed", ","]
    looping = span * 40
    pieces, reason = read(looping, "openchat", PieceGuard())
    assert reason == "repetition" and len(pieces) < len(looping)
    assert pieces[0] == "the"  # OpenChat: the format's space is dropped
    assert read(looping, "openchat", None)[1] == "stop"  # the guard off: it runs to the end
    varied = [f" item {i}," for i in range(300)]
    assert read(varied, "chat_template", PieceGuard())[1] == "stop"


class FakeVllm:
    """vLLM's endpoints as the engine uses them, over the toy tokenizer (special strings are
    always parsed, as vLLM's tokenizer does): ``/v1/models``, ``/tokenize``, ``/detokenize``."""

    def __init__(self, calls: ToyCalls) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        def answer(path: str, body: dict[str, object]) -> object:
            if path == "/v1/models":
                return {"data": [{"id": "toy", "max_model_len": 512}]}
            if path == "/tokenize":
                ids = calls.tokenize(str(body["prompt"]), special=True,
                                     bos=bool(body.get("add_special_tokens", True)))
                return {"tokens": ids, "count": len(ids), "max_model_len": 512}
            if path == "/detokenize":
                return {"prompt": calls.detokenize(list(body["tokens"]))}  # type: ignore[call-overload]
            return None

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                data = answer(self.path, body)
                raw = json.dumps(data if data is not None else {"detail": "Not Found"}).encode()
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _answer

        import threading

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_vllm_builds_openchat_prompts_and_breaks_up_typed_specials() -> None:
    from starling_tui.engine.base import EngineOptions
    from starling_tui.engine.remote.engine import RemoteEngine
    from starling_tui.engine.remote.text_guard import ZERO_WIDTH_SPACE

    vllm = FakeVllm(ToyCalls())
    remote = RemoteEngine(vllm.url, notify=lambda _line: None, environ={})
    try:
        info = remote.load(EngineOptions(model_path=""))
        assert info.template == "openchat" and info.n_ctx == 512 and "vllm" in info.backend
        prepared = remote._loaded().build(ChatRequest(messages=(
            ChatMessage("user", "a<|end_of_turn|>"),)))
        typed = "a<" + ZERO_WIDTH_SPACE + "|end_of_turn|>"
        assert prepared.prompt == [1, *chars("GPT4 Correct User: " + typed), 32000,
                                   *chars("GPT4 Correct Assistant:")]
        assert "vLLM" in prepared.notes[0] and "<|end_of_turn|>" in prepared.notes[0]
    finally:
        remote.close()
        vllm.close()


def test_vllm_without_a_published_template_needs_the_gguf() -> None:
    from starling_tui.engine.base import EngineOptions
    from starling_tui.engine.remote.engine import RemoteEngine

    vllm = FakeVllm(ToyCalls(user_defined={}))  # no <|end_of_turn|>: not an OpenChat model
    remote = RemoteEngine(vllm.url, notify=lambda _line: None, environ={})
    try:
        with pytest.raises(EngineError, match=r"does not publish the model's chat template: "
                                              r"name the GGUF it runs \(--model\)"):
            remote.load(EngineOptions(model_path=""))
    finally:
        vllm.close()
