"""``starling-tui ask PROMPT``: one turn of a conversation from the shell.

stdout carries the reply and nothing else. stderr carries the model line (name, quantization,
backend, layers offloaded and why, e.g. ``model: NAME (Q4_K_M) on CPU, 0/32 layers on the GPU —
auto: no GPU backend…``) and the conversation id (``conversation: ID``), so a script can
continue it with ``--conversation ID`` (or ``--continue`` for the latest one).

Both messages are saved as they happen: the user message before generation starts, the reply
every second while it streams, so an interrupted or killed run keeps what was shown (marked
``incomplete`` or ``cancelled``). Nothing is written to the history unless the model loaded and
the prompt is valid UTF-8 text.

A continued conversation keeps its own system prompt and the sampling values set for it
(sampling flags given to ``ask`` become the conversation's own, as the app's conversation
settings do): flags > the conversation's own values > environment > config file > defaults.
Sampling values that were not set for the conversation follow the settings of the day.

``--file PATH`` (``-f``, repeatable, ``-`` for stdin) attaches text files to the message; they
are read and checked before the model loads, and refused in one line (nothing saved) when they
are not UTF-8 text files or do not fit the context window. A path through a symbolic link is
followed and named on stderr (``note: a.py is a link to …``).

When the conversation no longer fits the context, the engine leaves the oldest messages out and
a ``note:`` line on stderr says how many. ``--stats`` prints the reply's figures as one JSON line
on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starling_tui.cli import options

if TYPE_CHECKING:
    from starling_tui.chat import ChatCore
    from starling_tui.chat.attachments import AttachedFile
    from starling_tui.config import Settings
    from starling_tui.engine.base import GenerationStats, ModelInfo
    from starling_tui.history.records import Conversation
    from starling_tui.types import Attachment


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ask`` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ask",
        help="ask a question from the shell, streaming the reply (saved to history)",
        description="Send PROMPT to the model, stream the reply to stdout and save both to the "
        "history. The conversation id is printed on stderr.",
    )
    parser.add_argument("prompt", metavar="PROMPT", help="the message; '-' reads it from stdin")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--conversation",
        "-c",
        metavar="ID",
        help="continue this conversation (an id or a unique prefix of one)",
    )
    which.add_argument(
        "--continue",
        dest="continue_latest",
        action="store_true",
        help="continue the most recently updated conversation",
    )
    parser.add_argument(
        "--system",
        metavar="TEXT",
        default=None,
        help="system prompt (for a continued conversation: replaces its own)",
    )
    parser.add_argument(
        "--code",
        action="store_true",
        help="coding mode (Starling's 'Code User:' / 'Code Assistant:' template)",
    )
    parser.add_argument(
        "--stats", action="store_true", help="print the reply's figures as one JSON line on stderr"
    )
    options.add_file_option(parser)
    options.add_all(parser)
    return parser


def read_files(args: argparse.Namespace) -> list[AttachedFile]:
    """The ``--file`` attachments, read and checked; a note on stderr for each followed link.

    stdin holds one thing: the prompt (PROMPT ``-``) or one file (``-f -``), not both.
    """
    from starling_tui.chat.attachments import STDIN, read_attachments
    from starling_tui.errors import UserError

    if getattr(args, "prompt", None) == STDIN and STDIN in args.files:
        raise UserError("stdin holds either the prompt ('-') or a file ('-f -'), not both")
    files = read_attachments(args.files)
    for file in files:
        if file.link_note:
            print(file.link_note, file=sys.stderr, flush=True)
    return files


def read_prompt(prompt: str) -> str:
    """The prompt text: the argument, or stdin for ``-``; empty prompts are refused."""
    from starling_tui.errors import UserError
    from starling_tui.text import checked_text, read_stdin

    text = read_stdin("the prompt") if prompt == "-" else checked_text(prompt, "the prompt")
    if not text.strip():
        raise UserError("the prompt is empty")
    return text.rstrip("\n") if prompt == "-" else text


def model_line(info: ModelInfo) -> str:
    """``model: NAME (QUANT) on BACKEND, N/M layers on the GPU — why`` for stderr.

    A remote engine's model "path" is its server URL: where layers run is the server's
    business, so that line says only where the model is served and how prompts are sent.
    """
    line = f"model: {info.name} ({info.quant}) on {info.backend}"
    if not info.remote:
        line += f", {info.n_gpu_layers}/{info.n_layers} layers on the GPU"
    line = f"{line} — {info.gpu_note}" if info.gpu_note else line
    return f"{line}; {info.template_note}" if info.template_note else line


def overflow_note(dropped: int, n_ctx: int) -> str:
    """The stderr note when the engine left the oldest messages out to fit the context."""
    noun = "message" if dropped == 1 else "messages"
    return f"note: {dropped} oldest {noun} left out to fit the {n_ctx}-token context"


def _conversation_to_continue(args: argparse.Namespace) -> Conversation | None:
    """The conversation to continue (checked now, before the model loads)."""
    if not (args.conversation or args.continue_latest):
        return None
    from starling_tui import factory

    with factory.open_history() as store:
        if args.conversation:
            return store.get_conversation(args.conversation)
        return store.latest_conversation()


def sampling_flags(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The sampling values given as flags (parsed): what the user set for this conversation."""
    from starling_tui.chat.sampling import SAMPLING_KEYS

    return {k: getattr(settings, k) for k in SAMPLING_KEYS if getattr(args, k, None) is not None}


def run(args: argparse.Namespace) -> int:
    """Run one turn; returns the exit status."""
    from starling_tui import factory
    from starling_tui.text import checked_text

    settings = options.settings_from_args(args)
    model = factory.choose_model(settings, args.model)
    files = read_files(args)
    text = read_prompt(args.prompt)
    if args.system is not None:
        checked_text(args.system, "the system prompt")
    continued = _conversation_to_continue(args)
    # Load before touching the history: a model llama.cpp refuses leaves it exactly as it was.
    engine, info = factory.load_engine(settings, model, getattr(args, "engine_factory", None))
    print(model_line(info), file=sys.stderr, flush=True)
    if info.context_note:
        print(f"note: {info.context_note}", file=sys.stderr, flush=True)
    try:
        with factory.open_history() as store:
            from starling_tui.chat import ChatCore

            core = ChatCore(store, engine, settings)
            # Before the conversation's mode is changed or anything saved: coding mode needs
            # an OpenChat model (a continued coding conversation too).
            core.check_mode("code" if args.code else continued.mode if continued else None)
            attachments = [file.attachment for file in files]
            name = model.name if model is not None else info.name  # remote: the server's
            stats = _turn(core, args, text, attachments, continued, name)
    finally:
        engine.close()
    if stats.dropped_messages:
        print(overflow_note(stats.dropped_messages, info.n_ctx), file=sys.stderr, flush=True)
    if args.stats:
        import json
        from dataclasses import asdict

        print(json.dumps(asdict(stats), sort_keys=True), file=sys.stderr, flush=True)
    return 0


def _turn(
    core: ChatCore,
    args: argparse.Namespace,
    text: str,
    attachments: Sequence[Attachment],
    continued: Conversation | None,
    model_name: str,
) -> GenerationStats:
    """Save the prompt (and its files) through the chat core, stream the reply to stdout;
    its figures."""
    flags = sampling_flags(args, core.settings)
    if continued is None:
        pending = core.start(
            text, mode="code" if args.code else "auto", system_prompt=args.system,
            sampling_overrides=flags, model=model_name, attachments=attachments,
        )
    else:
        if attachments:  # before configure: refused files leave the conversation as it was
            core.check_files_fit(core.request(
                continued.id, text, mode="code" if args.code else None,
                system_prompt=args.system, sampling_changes=flags, attachments=attachments,
            ))
        core.configure(
            continued.id, model=model_name, mode="code" if args.code else None,
            system_prompt=args.system, sampling_changes=flags or None,
        )
        pending = core.send(continued.id, text, attachments=attachments)
    print(f"conversation: {pending.conversation_id}", file=sys.stderr, flush=True)
    result = pending.run(on_piece=_write_piece)
    if not result.message.content.endswith("\n"):
        _write_piece("\n")
    return result.stats


def _write_piece(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()
