"""Command-line options shared by ``ask``, ``tokens`` and the chat app (``tui``).

The flag names are part of the interface (the README and the TUI use the same ones). Each
option's ``dest`` is the :class:`~starling_tui.config.Settings` field it overrides and its
default is ``None`` ("not given"), so :func:`settings_from_args` can layer flags over the
environment and the config file. Values are checked here, with argparse's usual error format.
For a continued conversation its saved sampling settings sit between the flags and the rest.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starling_tui.config import Settings

# flag -> (settings field, metavar, help)
ENGINE_FLAGS: dict[str, tuple[str, str, str]] = {
    "--n-gpu-layers": ("n_gpu_layers", "N", "layers to offload to the GPU: auto, all or a number"),
    "--ctx": ("ctx", "TOKENS", "context size (0 = the model's training context)"),
    "--threads": ("threads", "N", "CPU threads (0 = llama.cpp's choice)"),
    "--batch": ("batch", "TOKENS", "prompt evaluation batch size"),
}
SAMPLING_FLAGS: dict[str, tuple[str, str, str]] = {
    "--temperature": ("temperature", "T", "sampling temperature (0 = greedy, the default)"),
    "--top-p": ("top_p", "P", "nucleus sampling threshold"),
    "--top-k": ("top_k", "K", "sample among the K likeliest tokens (0 = off)"),
    "--min-p": ("min_p", "P", "drop tokens below P times the likeliest one"),
    "--repeat-penalty": ("repeat_penalty", "X", "penalty for repeated tokens (1 = off)"),
    "--seed": ("seed", "N", "random seed"),
    "--max-tokens": ("max_tokens", "N", "stop the reply after N tokens (0 = no limit)"),
}


SAMPLING_FIELDS = frozenset(field for field, _metavar, _help in SAMPLING_FLAGS.values())


def checked(field: str) -> Callable[[str], str]:
    """An argparse ``type`` that validates a setting but keeps the raw text for layering."""

    def check(text: str) -> str:
        from starling_tui.config import parse_value
        from starling_tui.errors import ConfigError

        try:
            parse_value(field, text)
        except ConfigError as error:
            message = str(error).split(": ", 1)[-1]
            raise argparse.ArgumentTypeError(message) from None
        return text

    check.__name__ = field  # argparse names the type in some messages
    return check


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """``--model``: a GGUF path or a name from the models folder."""
    parser.add_argument(
        "--model",
        "-m",
        dest="model",
        metavar="MODEL",
        default=None,
        help="GGUF file, or a model name from the models folder (default: the configured "
        "model, or the only one there)",
    )


def _add_flags(group: Any, flags: dict[str, tuple[str, str, str]]) -> None:
    for flag, (field, metavar, text) in flags.items():
        group.add_argument(
            flag, dest=field, metavar=metavar, type=checked(field), default=None, help=text
        )


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--n-gpu-layers``, ``--ctx``, ``--threads``, ``--batch``."""
    _add_flags(parser.add_argument_group("engine"), ENGINE_FLAGS)


def add_sampling_options(parser: argparse.ArgumentParser) -> None:
    """``--temperature``, ``--top-p``, ``--top-k``, ``--min-p``, ``--repeat-penalty``,
    ``--seed``, ``--max-tokens``."""
    _add_flags(parser.add_argument_group("sampling"), SAMPLING_FLAGS)


def add_all(parser: argparse.ArgumentParser) -> None:
    """Every shared option: model, engine and sampling."""
    add_model_option(parser)
    add_engine_options(parser)
    add_sampling_options(parser)


def settings_from_args(
    args: argparse.Namespace, stored_sampling: Mapping[str, Any] | None = None
) -> Settings:
    """Settings with these flags over the environment, the config file and the defaults.

    ``stored_sampling`` (a continued conversation's saved sampling) goes between: flags beat
    it, and it beats the environment, the config file and the defaults.
    """
    from starling_tui.config import load_settings

    layered: dict[str, Any] = {}
    for name in SAMPLING_FIELDS & set(stored_sampling or {}):
        value = (stored_sampling or {})[name]
        # None means "no limit" there; here None would mean "not given", and 0 is "no limit".
        layered[name] = 0 if value is None and name == "max_tokens" else value
    layered.update({name: value for name, value in vars(args).items() if value is not None})
    return load_settings(layered)
