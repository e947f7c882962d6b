"""Models without a chat template: llama.cpp's built-in formats rendered exactly, what ``auto``
picks (architecture, vocabulary, else OpenChat with a note), and the ``chat_format`` setting."""

from __future__ import annotations

import ctypes

import pytest

from starling_tui.config import Settings, load_settings
from starling_tui.errors import ConfigError
from starling_tui.prompt.builder import build_parts, resolve_format
from starling_tui.prompt.formats import BUILTIN_FORMATS, FormatChoice, choose_format
from starling_tui.prompt.parts import PromptTokenizer, SpecialToken, render_parts
from starling_tui.types import CHAT_FORMATS, ChatMessage

# Every turn token of the built-in formats, as a vocabulary with all of them would have them.
TURN_TOKENS = ("<|im_start|>", "<|im_end|>", "<start_of_turn>", "<end_of_turn>",
               "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "[INST]", "[/INST]",
               "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "</s>", "<|user|>", "<|assistant|>",
               "<|system|>", "<|end|>", "<|endoftext|>")
CONVERSATIONS = {
    "one question": [ChatMessage("user", "Hello there")],
    "system and turns": [
        ChatMessage("system", "You are terse."), ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello! How can I help?"),
        ChatMessage("user", "  Tell me a joke.\n\n"),
    ],
    "spaces around replies": [
        ChatMessage("user", "a"), ChatMessage("assistant", " b \n"), ChatMessage("user", "c"),
    ],
    "a user who types turn tokens": [ChatMessage("user", "<|im_end|> [INST] <end_of_turn>")],
}


def tokenizer(specials: tuple[str, ...] = TURN_TOKENS, add_bos: bool = False) -> PromptTokenizer:
    """A vocabulary that has ``specials`` (rendering needs no real tokenizer)."""
    return PromptTokenizer(encode=lambda text: [ord(c) for c in text], bos_id=1, eot_id=2,
                           bos_text="<bos>", add_bos=add_bos,
                           special_ids={s: 100 + i for i, s in enumerate(specials)})


def llama_cpp_render(name: str, messages: list[ChatMessage]) -> str:
    """``llama_chat_apply_template`` with llama.cpp's built-in template ``name``."""
    from starling_tui.llama.backend import llama

    lc = llama()
    chat = (lc.llama_chat_message * len(messages))(*[
        lc.llama_chat_message(role=m.role.encode(), content=m.content.encode())
        for m in messages])
    buf = ctypes.create_string_buffer(1 << 16)
    n = lc.llama_chat_apply_template(name.encode(), chat, len(messages), True, buf, len(buf))
    assert 0 <= n < len(buf), f"llama.cpp does not know {name!r}"
    return buf.raw[:n].decode("utf-8")


@pytest.mark.parametrize("conversation", list(CONVERSATIONS))
@pytest.mark.parametrize("name", BUILTIN_FORMATS)
def test_each_builtin_format_renders_as_llama_cpp_does(name: str, conversation: str) -> None:
    messages = CONVERSATIONS[conversation]
    parts = build_parts(messages, name, tokenizer(), None)
    assert render_parts(parts) == llama_cpp_render(name, messages)


def test_turn_tokens_typed_by_the_user_stay_text() -> None:
    tok = tokenizer()
    parts = build_parts(CONVERSATIONS["a user who types turn tokens"], "chatml", tok, None)
    specials = [p.text for p in parts if isinstance(p, SpecialToken)]
    assert specials == ["<|im_start|>", "<|im_end|>", "<|im_start|>"]  # the format's own only
    assert "<|im_end|> [INST] <end_of_turn>" in parts


def test_bos_comes_first_where_the_vocabulary_adds_it() -> None:
    parts = build_parts(CONVERSATIONS["one question"], "gemma", tokenizer(add_bos=True), None)
    assert render_parts(parts) == ("<bos><start_of_turn>user\nHello there<end_of_turn>\n"
                                   "<start_of_turn>model\n")


def test_the_setting_offers_auto_openchat_and_the_builtins() -> None:
    assert ("auto", "openchat", *BUILTIN_FORMATS) == CHAT_FORMATS
    assert Settings().chat_format == "auto"
    assert load_settings(environ={"STARLING_TUI_CHAT_FORMAT": "Gemma"}).chat_format == "gemma"
    with pytest.raises(ConfigError, match="chat_format: expected"):
        load_settings(environ={"STARLING_TUI_CHAT_FORMAT": "alpaca"})


def test_auto_takes_the_architectures_format_and_says_so() -> None:
    choice = choose_format(tokenizer(("<start_of_turn>", "<end_of_turn>")), None, "gemma3", "auto")
    assert choice.format == "gemma"
    assert choice.note == ("no chat template in the model: gemma format, the usual one for its "
                           "architecture (gemma3); set chat_format to change it")


def test_auto_falls_back_on_turn_tokens_then_on_openchat_with_a_warning() -> None:
    llama3_vocab = tokenizer(("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"))
    by_vocabulary = choose_format(llama3_vocab, None, "llama", "auto")
    assert by_vocabulary.format == "llama3" and "its vocabulary has" in by_vocabulary.note
    unknown = choose_format(tokenizer(()), None, "llama", "auto")
    assert unknown.format == "openchat"
    assert unknown.note.startswith("no chat template in the model and no known format for its "
                                   "architecture (llama): Starling's OpenChat format, which it "
                                   "may not follow")


def test_the_models_own_template_or_vocabulary_wins() -> None:
    starling = tokenizer(("<|end_of_turn|>",))
    assert choose_format(starling, None, "llama", "auto") == FormatChoice("openchat")
    assert choose_format(starling, "{{ x }}", "llama", "gemma") == FormatChoice("openchat")
    chatml = tokenizer(("<|im_start|>", "<|im_end|>"))
    assert choose_format(chatml, "{{ x }}", "qwen2", "gemma") == FormatChoice("chat_template")


def test_chat_format_chooses_for_a_model_without_a_template() -> None:
    choice = choose_format(tokenizer(()), None, "gemma3", "chatml")
    assert choice == FormatChoice("chatml", "no chat template in the model: chatml format, as "
                                            "chat_format says")


def test_requests_in_auto_mode_use_the_format_chosen_at_load() -> None:
    tok = tokenizer(("<start_of_turn>", "<end_of_turn>"))
    assert resolve_format("auto", tok, None, "gemma") == "gemma"
    assert resolve_format("auto", tok, None) == "openchat"  # nothing chosen: as before
    assert resolve_format("openchat", tok, None, "gemma") == "openchat"
