"""``starling-tui`` (no subcommand, or ``tui``): open the chat app.

Flags: the shared model/engine/sampling options, ``--conversation ID`` to resume a
conversation and ``--new`` to start on an empty chat. Textual is imported only here, inside
:func:`run`, so ``--help`` stays fast. A model that cannot be found is not an error: the app
opens on its welcome screen with the history browsable.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``tui`` and its options."""
    from starling_tui.cli.options import add_all

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tui", help="open the chat app (the default when no command is given)",
        description="Open the chat app. Keys are listed in its footer and command palette "
        "(ctrl+p). Enter sends, ctrl+j (or shift+enter where the terminal supports it) "
        "inserts a newline.",
    )
    add_all(parser)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--conversation", "-c", metavar="ID", default=None,
                       help="open this conversation (an id or a unique id prefix)")
    group.add_argument("--new", action="store_true", help="start on a new, empty chat")
    return parser


def build_services(args: argparse.Namespace) -> Any:
    """The app's engine, history store and settings, through the shared factory."""
    from starling_tui import factory
    from starling_tui.cli.options import settings_from_args
    from starling_tui.errors import ModelFileError
    from starling_tui.models import model_files, models_dir, resolve_model
    from starling_tui.paths import app_paths
    from starling_tui.ui.services import Services

    settings = settings_from_args(args)
    try:
        model_path = str(resolve_model(args.model or settings.model))
    except ModelFileError:
        if args.model:
            raise  # an explicit --model that does not exist is a mistake worth stopping for
        model_path = ""  # no model yet: the welcome screen explains how to get one
    store = factory.open_history()
    try:
        conversation_id = store.resolve_id(args.conversation) if args.conversation else None
    except BaseException:
        store.close()
        raise
    return Services(
        engine=factory.create_engine(settings, getattr(args, "engine_factory", None)),
        store=store, settings=settings, model_path=model_path, models_dir=models_dir(),
        export_dir=app_paths().data_dir / "exports",
        conversation_id=conversation_id, new_chat=bool(args.new),
        list_models=model_files, save_settings=factory.save_setting_changes,
    )


def prepare_child_processes() -> None:
    """Start multiprocessing's resource tracker while ``sys.stderr`` is still the real one.

    Textual swaps ``sys.stderr`` for an object whose ``fileno()`` is -1 while the app runs, and
    the tracker (started lazily by the engine's first ``spawn``) passes that descriptor to its
    child: "bad value(s) in fds_to_keep". Starting it before the app avoids that.
    """
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


def run(args: argparse.Namespace) -> int:
    """Run the app until the user quits; close the engine and the store afterwards."""
    services = build_services(args)
    prepare_child_processes()
    try:
        from starling_tui.ui.app import StarlingApp

        StarlingApp(services).run()
    finally:
        services.engine.close()
        services.store.close()
    return 0
