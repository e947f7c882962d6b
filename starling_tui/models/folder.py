"""The models folder: which GGUFs are there, and which one ``--model`` (or the default) means."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from starling_tui.errors import ModelFileError
from starling_tui.models.inspect import ModelFile, inspect_model


@dataclass(frozen=True)
class ModelEntry:
    """One ``*.gguf`` of the models folder: its facts, or why it is unusable."""

    path: Path
    model: ModelFile | None
    error: str = ""


def models_dir() -> Path:
    """The folder ``pull`` and ``starling-convert`` put models in."""
    from starling_tui.paths import app_paths

    return app_paths().models_dir


def model_files(folder: Path | None = None) -> list[Path]:
    """``*.gguf`` files of the models folder (hidden and temporary files excluded), sorted."""
    folder = folder or models_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.gguf") if not p.name.startswith(".") and p.is_file())


def list_models(folder: Path | None = None) -> list[ModelEntry]:
    """Every GGUF of the models folder with its facts or its one-line problem."""
    entries = []
    for path in model_files(folder):
        try:
            entries.append(ModelEntry(path, inspect_model(path)))
        except ModelFileError as error:
            entries.append(ModelEntry(path, None, str(error)))
    return entries


def resolve_model(spec: str | None, default: str | None = None, folder: Path | None = None) -> Path:
    """The model file meant by ``--model`` (a path or a name), the default, or the only one.

    Names match file stems in the models folder: exactly (ignoring case), else as a unique
    prefix or substring. Raises :class:`ModelFileError` with a hint when nothing fits.
    """
    folder = folder or models_dir()
    if spec:
        return _resolve_spec(spec, folder, "")
    if default:
        return _resolve_spec(default, folder, "the default model (setting 'model') ")
    files = model_files(folder)
    if len(files) == 1:
        return files[0]
    if not files:
        raise ModelFileError(
            f"no model in {folder}; run 'starling-tui pull' or pass --model PATH/TO/MODEL.gguf"
        )
    names = ", ".join(p.stem for p in files)
    raise ModelFileError(
        f"several models in {folder} ({names}); pick one with --model NAME or set model = "
        '"NAME" in config.toml'
    )


def _resolve_spec(spec: str, folder: Path, what: str) -> Path:
    candidate = Path(spec).expanduser()
    looks_like_path = os.sep in spec or "/" in spec or spec.lower().endswith(".gguf")
    if candidate.is_file() or (looks_like_path and candidate.exists()):
        return candidate
    files = model_files(folder)
    wanted = spec.lower().removesuffix(".gguf")
    for matches in (
        [p for p in files if p.stem.lower() == wanted],
        [p for p in files if p.stem.lower().startswith(wanted)],
        [p for p in files if wanted in p.stem.lower()],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(p.stem for p in matches)
            raise ModelFileError(f"{what}{spec!r} matches several models ({names}); be more exact")
    if looks_like_path:
        raise ModelFileError(f"{what}model file {candidate} not found")
    available = ", ".join(p.stem for p in files) or "none"
    raise ModelFileError(
        f"{what}{spec!r} is not a file or a model in {folder} (there: {available})"
    )
