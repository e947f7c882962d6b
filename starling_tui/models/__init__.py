"""GGUF model files: what is in the models folder, which one ``--model`` means, is it sound.

- :mod:`.inspect` — :func:`inspect_model`: the header facts of one file, or one line saying why
  it is unusable (missing, empty, a git-lfs pointer, not GGUF, truncated, corrupt).
- :mod:`.gguf_reader` — the one GGUF header reader (also used by ``convert.verify``).
- :mod:`.file_types` — GGUF file-type and tensor-type names (gguf-py's tables).
- :mod:`.folder` — the models folder: listing it and resolving ``--model NAME``.
"""

from starling_tui.models.folder import (
    ModelEntry,
    list_models,
    model_files,
    models_dir,
    resolve_model,
)
from starling_tui.models.inspect import GGUF_MAGIC, LFS_POINTER_PREFIX, ModelFile, inspect_model

__all__ = [
    "GGUF_MAGIC",
    "LFS_POINTER_PREFIX",
    "ModelEntry",
    "ModelFile",
    "inspect_model",
    "list_models",
    "model_files",
    "models_dir",
    "resolve_model",
]
