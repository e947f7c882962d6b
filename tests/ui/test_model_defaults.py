"""The system prompt a model's template adds by itself, read from two prompt renderings."""

from __future__ import annotations

from starling_tui.ui.model_defaults import (
    SYSTEM_MARK,
    USER_MARK,
    system_placeholder,
    template_system_text,
)

CHATML_HEAD = "<|im_start|>system\n"
CHATML_TO_USER = "<|im_end|>\n<|im_start|>user\n"


def chatml(system: str) -> str:
    return f"{CHATML_HEAD}{system}{CHATML_TO_USER}{USER_MARK}<|im_end|>\n<|im_start|>assistant\n"


def test_a_chatml_template_s_own_system_prompt_is_found() -> None:
    found = template_system_text(chatml("You are SmolLM."), chatml(SYSTEM_MARK))
    assert found == "You are SmolLM."


def test_a_template_without_a_default_gives_nothing() -> None:
    plain = f"<s>GPT4 Correct User: {USER_MARK}<|end_of_turn|>GPT4 Correct Assistant:"
    framed = (f"<s>GPT4 Correct System: {SYSTEM_MARK}<|end_of_turn|>GPT4 Correct User: "
              f"{USER_MARK}<|end_of_turn|>GPT4 Correct Assistant:")
    assert template_system_text(plain, framed) == ""
    # a template that drops the system turn altogether
    assert template_system_text(plain, plain) == ""


def test_the_placeholder_names_the_default_or_says_there_is_none() -> None:
    assert "You are SmolLM." in system_placeholder("You are SmolLM.")
    assert "none" in system_placeholder("")
