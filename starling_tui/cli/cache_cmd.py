"""``starling-tui cache``: show or clear the saved KV states of conversations.

``cache`` / ``cache show`` lists each saved state (conversation, model, tokens, size, last
use) and the total against the disk budget (setting ``state_cache_budget_mb``; the least
recently used states are evicted beyond it). ``cache clear [--conversation ID]`` deletes them
(``ID`` may be shortened to a unique prefix, as in ``history``; an unknown one is an error);
conversations are never affected, only how fast they resume. ``--json`` prints one object per
line. States written with a q8_0 KV cache (``kv_cache_type = "q8_0"``) are about half the size
of f16 ones, at a small cost in precision.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``cache``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "cache",
        help="show or clear saved conversation states",
        description="Show or clear the saved KV states that let conversations resume instantly.",
    )
    parser.add_argument("action", nargs="?", choices=["show", "clear"], default="show")
    parser.add_argument("--conversation", metavar="ID",
                        help="clear only this conversation (an id or unique id prefix)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _show(args: argparse.Namespace, folder: Any, budget_mb: int) -> int:
    from starling_tui.llama.kv_state import list_states

    states = sorted(list_states(folder), key=lambda h: h.last_used, reverse=True)
    total = sum(h.size for h in states)
    if args.json:
        for h in states:
            print(json.dumps({
                "conversation_id": h.meta.get("conversation_id"),
                "model": h.meta.get("model_name"), "tokens": h.n_tokens, "bytes": h.size,
                "last_used": h.last_used, "path": str(h.path),
            }))
        return 0
    for h in states:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(h.last_used))
        print(f"{h.meta.get('conversation_id')}  {h.meta.get('model_name')}  "
              f"{h.n_tokens} tokens  {_mib(h.size)}  last used {used}")
    print(f"{len(states)} saved states, {_mib(total)} of {budget_mb} MiB budget in {folder}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Show or clear the saved states."""
    from starling_tui.config import load_settings
    from starling_tui.factory import clear_saved_states
    from starling_tui.llama.kv_state import clear_states
    from starling_tui.paths import app_paths

    folder = app_paths().state_cache_dir
    if args.action == "clear":
        if args.conversation:
            conversation = _conversation(args.conversation, folder)
            count = clear_saved_states(conversation)  # as deleting the conversation does
            what = f"conversation {conversation}"
        else:
            count, what = clear_states(folder), "all conversations"
        print(f"cleared {count} saved states ({what})")
        return 0
    if args.conversation:
        print("starling-tui: error: --conversation goes with 'clear'", file=sys.stderr)
        return 2
    return _show(args, folder, load_settings().state_cache_budget_mb)


def _conversation(id_or_prefix: str, folder: Any) -> str:
    """The conversation ``--conversation`` names: an id or unique prefix, as ``history``
    takes; the full id of a state whose conversation is no longer in the history also counts.
    An unknown id is a one-line :class:`~starling_tui.errors.HistoryError`."""
    from starling_tui.factory import open_history
    from starling_tui.llama.kv_state import list_states

    if id_or_prefix in {h.meta.get("conversation_id") for h in list_states(folder)}:
        return id_or_prefix
    with open_history() as store:
        return store.resolve_id(id_or_prefix)
