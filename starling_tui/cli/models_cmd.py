"""``starling-tui models``: the GGUF files in the models folder and what they are.

One line per file: name, size, quantization, training context, prompt template, and ``*`` on
the one ``ask``/the app would use with no ``--model``. Unusable files are listed with their
problem. ``--json`` prints one object per line instead.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``models``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "models",
        help="list the GGUF models in the models folder",
        description="List the GGUF files in the models folder with size, quantization, "
        "context length and template.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


def _default_path(settings: Any) -> Any:
    from starling_tui.errors import ModelFileError
    from starling_tui.models import resolve_model

    try:
        return resolve_model(None, settings.model).resolve()
    except ModelFileError:
        return None


def run(args: argparse.Namespace) -> int:
    """Print the listing."""
    from starling_tui.config import load_settings
    from starling_tui.disk import human
    from starling_tui.models import list_models, models_dir

    entries = list_models()
    default = _default_path(load_settings())
    if not entries and not args.json:
        print(f"no models in {models_dir()} (get one with 'starling-tui pull')")
        return 0
    for entry in entries:
        mark = "*" if default is not None and entry.path.resolve() == default else " "
        model = entry.model
        if args.json:
            record: dict[str, Any] = {
                "path": str(entry.path),
                "name": entry.path.stem,
                "default": mark == "*",
                "error": entry.error or None,
            }
            if model is not None:
                record.update(
                    size=model.size,
                    quant=model.quant,
                    architecture=model.architecture,
                    context_length=model.context_length,
                    template=model.template,
                )
            print(json.dumps(record))
        elif model is None:
            print(f"{mark} {entry.path.stem}  unusable: {entry.error}")
        else:
            print(
                f"{mark} {model.name}  {human(model.size)}  {model.quant}  "
                f"ctx {model.context_length}  {model.template}"
            )
    return 0
