"""The core never imports Textual, the layers import downwards only, and ``--help`` stays light.

Layering inside ``starling_tui``: the full order is :data:`ORDER` (``cli → ui → factory → chat
→ quality | pull → engine → prompt | history → llama | models → config → root helpers →
errors | types``), every part of the package is placed in it, and ``starling_tui`` never imports
``convert``. The check reads every import statement, lazy ones inside functions included, so
an upward import cannot hide in a function body.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

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


PACKAGE = Path(starling_tui.__file__).parent
# The full order, lowest first: a part may import its own modules and any part of a lower
# rank, never one of the same or a higher rank. Every part of the package must be placed here.
ORDER: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "types"),
    ("text", "atomic", "disk", "paths"),
    ("config",),
    ("llama", "models"),
    ("prompt", "history"),
    ("engine",),
    ("quality", "pull"),
    ("chat",),
    ("factory",),
    ("ui",),
    ("cli",),
)
RANK = {part: rank for rank, parts in enumerate(ORDER) for part in parts}


def imported_modules(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every module ``path`` imports, at the top or inside functions (absolute names)."""
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def layer_of(path: Path, root: Path = PACKAGE) -> str:
    """The top-level part of ``starling_tui`` a file belongs to (``chat``, ``ui``, ``factory``…)."""
    return path.relative_to(root).parts[0].removesuffix(".py")


def upward_imports(root: Path = PACKAGE) -> list[str]:
    """``file: module`` for each import that breaks the layering or brings Textual into the core."""
    broken = []
    for path in sorted(root.rglob("*.py")):
        layer = layer_of(path, root)
        for module in sorted(imported_modules(path, root)):
            parts = module.split(".")
            if parts[0] == "textual" and layer != "ui" and path.name != "tui_cmd.py":
                broken.append(f"{path.relative_to(root)}: {module}")
            if parts[0] in ("convert", "starling_convert"):  # pull runs the converter as a child
                broken.append(f"{path.relative_to(root)}: {module}")
            if parts[0] == "starling_tui" and len(parts) > 1:
                target = "__init__" if parts[1] == "__version__" else parts[1]
                if target != layer and RANK.get(target, -1) >= RANK.get(layer, -1):
                    broken.append(f"{path.relative_to(root)}: {module}")
    return broken


def test_layers_import_downwards_only() -> None:
    assert upward_imports() == []


def test_every_part_of_the_package_is_placed_in_the_order() -> None:
    parts = {layer_of(path) for path in PACKAGE.rglob("*.py")}
    assert parts - RANK.keys() == set(), "place each new package or root module in ORDER"


def test_the_layering_check_catches_upward_and_textual_imports(tmp_path: Path) -> None:
    """The checker itself: a planted upward import, lazy or not, is reported."""
    fake = tmp_path / "starling_tui"
    for layer, code in {
        "history": "def f():\n    from starling_tui.chat import ChatCore\n"
                   "from starling_tui.prompt import fit\n",
        "chat": "from starling_tui.ui.app import StarlingApp\n",
        "engine": "import textual\n",
        "prompt": "from starling_tui import factory\nfrom starling_tui.engine import base\n",
        "pull": "def g():\n    from convert.api import convert_checkpoint\n",
        "ui": "import textual\nfrom starling_tui.chat import ChatCore\n",
    }.items():
        (fake / layer).mkdir(parents=True)
        (fake / layer / "mod.py").write_text(code)
    assert upward_imports(fake) == [
        "chat/mod.py: starling_tui.ui.app",
        "chat/mod.py: starling_tui.ui.app.StarlingApp",
        "engine/mod.py: textual",
        "history/mod.py: starling_tui.chat",
        "history/mod.py: starling_tui.chat.ChatCore",
        "history/mod.py: starling_tui.prompt",
        "history/mod.py: starling_tui.prompt.fit",
        "prompt/mod.py: starling_tui.engine",
        "prompt/mod.py: starling_tui.engine.base",
        "prompt/mod.py: starling_tui.factory",
        "pull/mod.py: convert.api",
        "pull/mod.py: convert.api.convert_checkpoint",
    ]
