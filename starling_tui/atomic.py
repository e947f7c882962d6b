"""Writing files so that readers (and crashes) see the old content or the new, never half.

Every write-then-rename goes through here: the config file, ``history export -o``, models that
``pull`` installs, the converter's GGUF output. The temp file is made in the target's own
folder (``os.replace`` cannot cross file systems, and a temp file elsewhere would leave the
folder check to the rename), flushed and fsynced, renamed over the target, and the folder is
fsynced so the rename itself survives a power cut. On any failure the temp file is removed and
the target is untouched.

The API:

- ``write_text(path, text)`` / ``write_bytes(path, data)``: the whole file at once.
- ``with atomic_writer(path, binary=False) as handle:`` the file written piece by piece; it
  replaces ``path`` only when the block ends without an exception.
- ``temp_path(target)`` + ``replace_durably(temp, target)``: for a file another writer makes
  (a library given a path, a child process): write to the temp path, then rename it durably;
  the caller removes the temp path on failure (``temp.unlink(missing_ok=True)``).
- ``make_private_dirs(folder)``: create a folder and its missing parents for the user alone.

What the app writes is the user's own (conversations, their saved states, settings), so new
files are ``0600`` and new folders ``0700``; a file that exists keeps its permissions.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from starling_tui.errors import UserError

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
NEW_FILE_MODE = PRIVATE_FILE_MODE


def make_private_dirs(folder: Path) -> Path:
    """Create ``folder`` and any missing parents readable by the user alone; returns it.

    ``Path.mkdir(parents=True)`` gives the parents the default mode, so each missing folder is
    made here, top down. Folders that already exist keep their permissions.
    """
    missing = [p for p in (folder, *folder.parents) if not p.is_dir()]
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            if not path.is_dir():
                raise
            continue  # made by another process meanwhile
        os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask
    return folder


def refuse_folder(path: Path) -> None:
    """Raise :class:`UserError` when ``path`` is a folder (a file name was needed)."""
    if path.is_dir():
        raise UserError(f"{path} is a folder; give a file name")


@contextmanager
def atomic_writer(path: Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """A handle on a temp file next to ``path`` that replaces ``path`` when the block ends.

    Text mode writes UTF-8. If the block raises, ``path`` is left as it was.
    """
    refuse_folder(path)
    make_private_dirs(path.parent)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(temp_name)
    try:
        os.chmod(temp, _mode_for(path))
        mode, encoding = ("wb", None) if binary else ("w", "utf-8")
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with atomic_writer(path) as handle:
        handle.write(text)
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_writer(path, binary=True) as handle:
        handle.write(data)
    return path


def temp_path(target: Path) -> Path:
    """A new hidden name beside ``target`` (``.name.<random>.partial``) for another writer."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")


def replace_durably(source: Path, target: Path) -> None:
    """Flush ``source`` (a finished temp file in ``target``'s folder) to disk, then rename it."""
    with open(source, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(source, target)
    fsync_folder(target.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mode_for(path: Path) -> int:
    """Keep an existing file's permissions; new files get :data:`NEW_FILE_MODE`."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return NEW_FILE_MODE
