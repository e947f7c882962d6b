"""The core never imports Textual, and ``--help`` never imports llama_cpp or numpy."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import starling_tui

UI_ONLY = ("starling_tui.ui", "starling_tui.cli.tui_cmd")
HEAVY = ("llama_cpp", "numpy", "textual", "gguf", "huggingface_hub")


def core_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(starling_tui.__path__, "starling_tui.")]
    return sorted(n for n in names if not any(n == ui or n.startswith(ui + ".") for ui in UI_ONLY))


def loaded_after(code: str) -> set[str]:
    """Top-level modules loaded by ``code`` in a fresh interpreter."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return {name.split(".")[0] for name in json.loads(result.stdout.splitlines()[-1])}


def test_every_core_module_imports_without_textual() -> None:
    modules = core_modules()
    for required in (
        "starling_tui.history.store",
        "starling_tui.cli.main",
        "starling_tui.cli.ask_cmd",
        "starling_tui.factory",
        "starling_tui.models",
        "starling_tui.config",
    ):
        assert required in modules
    imports = "\n".join(f"import {name}" for name in modules)
    assert "textual" not in loaded_after(imports)


def test_help_imports_nothing_heavy() -> None:
    for argv in (
        ["--help"],
        ["ask", "--help"],
        ["tokens", "--help"],
        ["history", "--help"],
        ["models", "--help"],
    ):
        code = (
            "from starling_tui.cli.main import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit as exit:\n"
            "    assert exit.code == 0, exit.code"
        )
        assert loaded_after(code).isdisjoint(HEAVY), argv
