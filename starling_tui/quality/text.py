"""The evaluation text shipped with the package, and reading a user's text file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from starling_tui.quality.errors import QualityError

DEFAULT_TEXT_NAME = "pride_and_prejudice_1-20.txt"


def default_text_path() -> Path:
    """Path of the shipped evaluation text (Pride and Prejudice, chapters 1–20; public domain)."""
    return Path(str(resources.files("starling_tui.quality").joinpath("data", DEFAULT_TEXT_NAME)))


def default_text() -> str:
    """The shipped evaluation text (about 52,000 Mistral tokens)."""
    return default_text_path().read_text(encoding="utf-8")


def read_text(path: Path | None) -> str:
    """The text of ``path`` (UTF-8), or the shipped text when ``path`` is None.

    Raises :class:`QualityError` (one line) when the file cannot be read or is not text.
    """
    if path is None:
        return default_text()
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise QualityError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise QualityError(f"cannot read {path}: {exc.strerror or exc}") from None
