"""The one place a failed thread worker's error ends up: a dialog, and the app stays usable.

Workers never catch errors to show them: :meth:`ChatScreen.on_worker_state_changed` hands
every failure here. A crashed engine also forgets its model and offers to reload it.
"""

from __future__ import annotations

from collections.abc import Callable

from starling_tui.errors import EngineCrashed, EngineError, UserError


def describe(error: BaseException | None) -> tuple[str, str]:
    """The dialog's title and its one-line text for ``error``."""
    if isinstance(error, EngineCrashed):
        return "The engine crashed", f"{error} — the model will be reloaded."
    if isinstance(error, EngineError):
        return "Engine error", str(error)
    if isinstance(error, UserError):
        return "Error", str(error)
    return "Unexpected error", f"{type(error).__name__}: {error}"


def is_crash(error: BaseException | None) -> bool:
    """Did the engine process die (so the model must be loaded again)?"""
    return isinstance(error, EngineCrashed)


ShowDialog = Callable[[str, str, Callable[[None], None] | None], object]


def show_worker_error(
    error: BaseException | None, show: ShowDialog, forget_model: Callable[[], str],
    reload: Callable[[str], object],
) -> None:
    """Show ``error``; after an engine crash, forget the model and reload it on close."""
    title, text = describe(error)
    if not is_crash(error):
        show(title, text, None)
        return
    path = forget_model()

    def reload_after_close(_: None) -> None:
        if path:
            reload(path)

    show(title, text, reload_after_close)
