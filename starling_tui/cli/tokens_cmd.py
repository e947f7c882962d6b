"""``starling-tui tokens``: the exact prompt a request would evaluate.

Prints the prompt token ids as one JSON line, then the rendered prompt with special tokens
visible (``<s>``, ``<|end_of_turn|>``…), as the engine's ``preview`` reports them. The request is
a single PROMPT, a saved conversation (``--conversation ID``, its active branch) with an
optional next MESSAGE, or a JSON file of ``{"role", "content"}`` objects (``--messages FILE``,
``-`` for stdin). The conversation's request is built by the chat core exactly as ``ask
--conversation ID MESSAGE`` builds it (same flags, same sampling layering, so the same
``max_tokens``); messages the engine leaves out to fit the context are noted on stderr.
``--file PATH`` (``-f``) attaches files to the message exactly as ``ask -f`` does, with the
same checks: ``tokens -f a.py PROMPT`` prints the ids ``ask -f a.py PROMPT`` sends.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starling_tui.cli import options

ROLES = ("system", "user", "assistant")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``tokens``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tokens",
        help="show the exact prompt token ids and the rendered prompt",
        description="Print the prompt token ids (JSON) and the rendered prompt with special "
        "tokens visible. With --conversation ID MESSAGE: exactly what 'ask --conversation ID "
        "MESSAGE' would send.",
    )
    parser.add_argument(
        "prompt", nargs="?", metavar="PROMPT", help="a user message ('-': stdin); with "
        "--conversation, the next message"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--conversation", "-c", metavar="ID", help="a saved conversation")
    source.add_argument(
        "--messages",
        metavar="FILE.json",
        help='a JSON list of {"role", "content"} objects (- for stdin)',
    )
    parser.add_argument("--system", metavar="TEXT", default=None, help="system prompt")
    parser.add_argument("--code", action="store_true", help="coding mode template")
    options.add_file_option(parser)
    options.add_all(parser)
    return parser


def parse_messages(text: str, origin: str) -> list[Any]:
    """Chat messages from JSON text; raises :class:`UserError` naming what is wrong."""
    from starling_tui.errors import UserError
    from starling_tui.text import checked_text
    from starling_tui.types import ChatMessage

    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{origin}: not valid JSON ({error})") from None
    if not isinstance(data, list) or not data:
        raise UserError(f"{origin}: expected a non-empty JSON list of messages")
    messages = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            raise UserError(f"{origin}: message {index} needs a string 'content'")
        if item.get("role") not in ROLES:
            raise UserError(
                f"{origin}: message {index} has role {item.get('role')!r}; "
                f"expected one of {', '.join(ROLES)}"
            )
        content = checked_text(item["content"], f"{origin}: message {index}")
        messages.append(ChatMessage(item["role"], content))
    return messages


def _read_messages_file(name: str) -> list[Any]:
    from starling_tui.errors import UserError
    from starling_tui.text import read_stdin

    if name == "-":
        return parse_messages(read_stdin("the messages JSON"), "stdin")
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise UserError(f"cannot read {name}: {reason}") from None
    return parse_messages(text, name)


def build_request(
    args: argparse.Namespace, settings: Any, attachments: Sequence[Any] = ()
) -> Any:
    """The chat request described by the arguments (through the chat core), with
    ``attachments`` on the new message."""
    from starling_tui.chat import ChatCore
    from starling_tui.chat.sampling import sampling_from_settings
    from starling_tui.cli.ask_cmd import read_prompt, sampling_flags
    from starling_tui.factory import open_history
    from starling_tui.text import checked_text
    from starling_tui.types import ChatMessage, ChatRequest

    system = None if args.system is None else checked_text(args.system, "the system prompt")
    mode = "code" if args.code else None
    if args.messages:
        messages = _read_messages_file(args.messages)
        system = settings.system_prompt if system is None else system
        if system and not any(m.role == "system" for m in messages):
            messages.insert(0, ChatMessage("system", system))
        return ChatRequest(
            tuple(messages), mode="code" if args.code else "auto",
            sampling=sampling_from_settings(settings),
        )
    text = read_prompt(args.prompt) if args.prompt is not None else None
    with open_history() as store:
        return ChatCore(store, None, settings).request(
            args.conversation, text, mode=mode, system_prompt=system,
            sampling_changes=sampling_flags(args, settings), attachments=attachments,
        )


def check_sources(args: argparse.Namespace) -> None:
    """Refuse a missing or doubled source of the prompt (before any model is looked at)."""
    from starling_tui.errors import UserError

    if args.messages and args.prompt is not None:
        raise UserError("give either PROMPT or --messages, not both")
    if not (args.messages or args.conversation or args.prompt is not None):
        raise UserError("give a PROMPT, --conversation ID or --messages FILE")
    if args.files and args.messages:
        raise UserError("--file attaches to PROMPT (or --conversation ID MESSAGE), "
                        "not to --messages")
    if args.files and args.prompt is None:
        raise UserError("--file attaches to a message: give the MESSAGE too")


def run(args: argparse.Namespace) -> int:
    """Print the prompt's ids and rendering."""
    from starling_tui import factory
    from starling_tui.chat.attachments import check_files_fit
    from starling_tui.cli.ask_cmd import read_files

    check_sources(args)
    settings = options.settings_from_args(args)
    model = factory.choose_model(settings, args.model)
    files = read_files(args)
    request = build_request(args, settings, [file.attachment for file in files])
    with factory.preview_engine(settings, model, getattr(args, "engine_factory", None)) as engine:
        check_files_fit(engine, request)
        preview = engine.preview(request)
    print(json.dumps(list(preview.token_ids)))
    print(preview.rendered)
    if preview.format_note:
        print(f"({preview.format_note})", file=sys.stderr)
    if request.sampling.max_tokens is not None:
        print(f"(replies stop after max_tokens = {request.sampling.max_tokens})", file=sys.stderr)
    if preview.dropped_messages:
        print(
            f"({preview.dropped_messages} oldest messages left out to fit the context)",
            file=sys.stderr,
        )
    return 0
