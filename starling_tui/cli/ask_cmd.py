"""``starling-tui ask PROMPT``: one turn of a conversation from the shell.

The reply streams to stdout; the conversation id goes to stderr (``conversation: ID``) so a
script can continue it with ``--conversation ID`` (or ``--continue`` for the latest one). Both
messages are saved as they happen: the user message before generation starts, the reply every
second while it streams, so an interrupted or killed run keeps what was shown (marked
``incomplete`` or ``cancelled``). ``--stats`` prints the reply's figures as one JSON line on
stderr. Nothing is written to the history unless the model loaded.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from starling_tui.cli import options


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
    options.add_all(parser)
    return parser


def read_prompt(prompt: str) -> str:
    """The prompt text: the argument, or stdin for ``-``; empty prompts are refused."""
    from starling_tui.errors import UserError

    text = sys.stdin.read() if prompt == "-" else prompt
    if not text.strip():
        raise UserError("the prompt is empty")
    return text.rstrip("\n") if prompt == "-" else text


def _conversation_to_continue(args: argparse.Namespace) -> str | None:
    """The id of the conversation to continue (checked now, before the model loads)."""
    if not (args.conversation or args.continue_latest):
        return None
    from starling_tui import factory

    with factory.open_history() as store:
        if args.conversation:
            return store.get_conversation(args.conversation).id
        latest = store.latest_conversation()
        return latest.id if latest else None


def run(args: argparse.Namespace) -> int:
    """Run one turn; returns the exit status."""
    from starling_tui import factory
    from starling_tui.cli.turn import Turn

    settings = options.settings_from_args(args)
    model = factory.choose_model(settings, args.model)
    text = read_prompt(args.prompt)
    conversation_ref = _conversation_to_continue(args)
    # Load before touching the history: a model llama.cpp refuses leaves it exactly as it was.
    engine, _info = factory.load_engine(settings, model)
    try:
        with factory.open_history() as store:
            conversation = store.get_conversation(conversation_ref) if conversation_ref else None
            turn = Turn(store, engine, settings, model)
            stats = turn.run(
                conversation,
                text,
                system=args.system,
                code=args.code,
                out=sys.stdout,
                on_conversation=lambda cid: print(
                    f"conversation: {cid}", file=sys.stderr, flush=True
                ),
            )
    finally:
        engine.close()
    if args.stats:
        import json
        from dataclasses import asdict

        print(json.dumps(asdict(stats), sort_keys=True), file=sys.stderr, flush=True)
    return 0
