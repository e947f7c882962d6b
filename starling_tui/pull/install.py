"""Put a finished GGUF into the models folder and make it the default model."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from starling_tui.pull.errors import PullError


def check_gguf(path: Path, what: str) -> None:
    """Refuse anything that is not a sound GGUF, with the models folder's own check."""
    from starling_tui.errors import ModelFileError
    from starling_tui.models import inspect_model

    try:
        inspect_model(path, shown_as=what)
    except ModelFileError as exc:
        raise PullError(f"{exc}; nothing was installed") from None


def install_file(source: Path, target: Path) -> None:
    """Place ``source`` at ``target`` atomically: a hard link when possible, else a copy.

    The copy is made under a hidden ``.partial`` name, flushed to disk and renamed into place,
    so the models folder never holds a half-written model, even after Ctrl-C or a power cut.
    """
    from starling_tui.atomic import make_private_dirs, replace_durably, temp_path

    make_private_dirs(target.parent)
    temp = temp_path(target)
    try:
        try:
            os.link(source.resolve(), temp)  # same disk as the cache: no second copy
        except OSError:
            shutil.copyfile(source, temp)
        replace_durably(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def make_default(target: Path, say: Callable[[str], None]) -> None:
    """Record the model as ``model = "<name>"`` in config.toml."""
    from starling_tui.config import spec, update_config_file
    from starling_tui.errors import UserError

    try:
        config = update_config_file(model=target.stem)
    except (UserError, OSError) as exc:
        raise PullError(f"{target} is ready, but it could not be made the default model: {exc}") \
            from None
    say(f"default model is now {target.stem} (in {config})")
    variable = spec("model").env
    if os.environ.get(variable, "").strip():
        say(f"note: {variable} is set and takes precedence over the config file")


