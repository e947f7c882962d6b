"""``starling-tui history``: list, show, search, export, rename and delete conversations.

IDs may be shortened to any unique prefix. ``show`` and ``export`` use the active branch of a
conversation (the one the app shows). ``export`` writes to stdout unless ``--output`` is given,
in which case the file is written atomically, into a folder that must exist. ``delete``
leaves nothing of the conversation behind (its text, its search entries, its saved KV
states). ``search`` exits 0 when something matched and 1 (with ``no matches for 'QUERY'`` on
stderr) when nothing did, like ``grep``; errors also exit 1 with a ``starling-tui: error:``
line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``history`` and its actions."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "history",
        help="list, show, search, export, rename or delete conversations",
        description="Work with saved conversations. IDs may be shortened to a unique prefix.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="conversations, most recent first")
    listing.add_argument("--limit", type=int, default=None, metavar="N", help="at most N")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = actions.add_parser("show", help="print a conversation")
    show.add_argument("id", metavar="ID")
    search = actions.add_parser(
        "search",
        help="full-text search of all messages",
        description="Full-text search of all messages. Exit status: 0 when something matched, "
        "1 when nothing did (like grep).",
    )
    search.add_argument("query", metavar="QUERY", nargs="+")
    search.add_argument("--limit", type=int, default=50, metavar="N", help="at most N hits")
    export = actions.add_parser("export", help="a conversation as Markdown or JSON")
    export.add_argument("id", metavar="ID")
    export.add_argument("--format", choices=("md", "json"), default="md")
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    rename = actions.add_parser("rename", help="set a conversation's title")
    rename.add_argument("id", metavar="ID")
    rename.add_argument("title", metavar="TITLE")
    delete = actions.add_parser("delete", help="delete a conversation and all its messages")
    delete.add_argument("id", metavar="ID")
    return parser


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    from starling_tui.factory import open_history

    with open_history() as store:
        handler = {
            "list": _list,
            "show": _show,
            "search": _search,
            "export": _export,
            "rename": _rename,
            "delete": _delete,
        }[args.action]
        return handler(store, args)


def _list(store: Any, args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from starling_tui.chat.export import timestamp

    for conv in store.list_conversations(limit=args.limit):
        if args.json:
            print(json.dumps(asdict(conv), ensure_ascii=False))
        else:
            title = conv.title or "(untitled)"
            print(f"{conv.id}  {timestamp(conv.updated_at)}  {conv.message_count:>4} msgs  {title}")
    return 0


def _show(store: Any, args: argparse.Namespace) -> int:
    from starling_tui.chat.export import render

    sys.stdout.write(render(store, args.id, "text"))
    return 0


def _search(store: Any, args: argparse.Namespace) -> int:
    from starling_tui.text import checked_text

    query = checked_text(" ".join(args.query), "the query")
    hits = store.search(query, limit=args.limit)
    for hit in hits:
        excerpt = " ".join(hit.snippet.split())
        where = f"(file {hit.file_name}) " if hit.file_name else ""
        print(f"{hit.conversation_id}  [{hit.role}]  {hit.conversation_title}: {where}{excerpt}")
    if not hits:
        # Exit 1 like grep, so scripts can test for a hit; the note goes to stderr.
        print(f"no matches for {query!r}", file=sys.stderr)
        return 1
    return 0


def _export(store: Any, args: argparse.Namespace) -> int:
    from starling_tui.chat import export

    conv = store.get_conversation(args.id)
    text = export.render(store, conv.id, args.format)  # the chat core's one export
    if args.output:
        target = export_target(args.output, f"{conv.id}.{args.format}")
        export.write(target, text)
        print(f"exported {conv.id} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _rename(store: Any, args: argparse.Namespace) -> int:
    from starling_tui.text import checked_text

    conv = store.rename(args.id, checked_text(args.title, "the title"))
    print(f"{conv.id}  {conv.title}")
    return 0


def _delete(store: Any, args: argparse.Namespace) -> int:
    conv = store.get_conversation(args.id)
    store.delete_conversation(conv.id)
    print(f"deleted {conv.id}  {conv.title}", file=sys.stderr)
    return 0


def export_target(output: str, example: str) -> Path:
    """The file ``--output`` names; a folder (or a name ending in a slash) is refused, and so
    is a file in a folder that does not exist (a typo must not create folders)."""
    from starling_tui.errors import UserError

    path = Path(output)
    if path.is_dir() or output.endswith(("/", os.sep)):
        raise UserError(f"{path} is a folder; give a file name, e.g. {path / example}")
    if not path.parent.is_dir():
        raise UserError(f"cannot write {path}: there is no folder {path.parent}")
    return path
