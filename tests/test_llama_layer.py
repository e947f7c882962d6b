"""The one llama.cpp layer: only ``starling_tui/llama`` touches llama-cpp-python.

Checked statically over ``starling_tui`` and ``convert``: every import statement (lazy ones
inside functions included) and every call that names the package in a string
(``importlib.import_module("llama_cpp")``, ``find_spec("llama_cpp")``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "starling_tui" / "llama"


def llama_cpp_uses(path: Path) -> list[str]:
    """``line: what`` for each import of llama_cpp in ``path`` (or a call naming it)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        elif isinstance(node, ast.Call):
            names = [arg.value for arg in node.args
                     if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        found += [f"{node.lineno}: {name}" for name in names
                  if name.split(".")[0] == "llama_cpp"]
    return found


def outside_the_layer(root: Path = ROOT) -> dict[str, list[str]]:
    """Every module of ``starling_tui`` and ``convert`` outside the llama layer that uses
    llama_cpp directly, with where."""
    layer = root / "starling_tui" / "llama"
    offenders = {}
    for package in ("starling_tui", "convert"):
        for path in sorted((root / package).rglob("*.py")):
            if layer in path.parents:
                continue
            uses = llama_cpp_uses(path)
            if uses:
                offenders[str(path.relative_to(root))] = uses
    return offenders


def test_only_the_llama_layer_imports_llama_cpp() -> None:
    assert outside_the_layer() == {}


def test_the_layer_itself_is_seen() -> None:
    """The check reads the layer's own imports, so an empty answer above is not blindness."""
    assert any(llama_cpp_uses(path) for path in LAYER.rglob("*.py"))


def test_the_check_finds_every_kind_of_use(tmp_path: Path) -> None:
    for package, code in {
        "convert": "def f():\n    from llama_cpp import _internals\n",
        "starling_tui/quality": "import llama_cpp.llama_cpp as lc\n",
        "starling_tui/engine": "import importlib.util\nimportlib.util.find_spec('llama_cpp')\n",
        "starling_tui/llama": "import llama_cpp\n",  # allowed here
    }.items():
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "mod.py").write_text(code)
    assert outside_the_layer(tmp_path) == {
        "convert/mod.py": ["2: llama_cpp"],
        "starling_tui/engine/mod.py": ["2: llama_cpp"],
        "starling_tui/quality/mod.py": ["1: llama_cpp.llama_cpp"],
    }
