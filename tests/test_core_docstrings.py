"""Every module, public class and public function of the core files carries a docstring."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "starling_tui"
CORE = [
    *sorted((ROOT / "history").glob("*.py")),
    *sorted((ROOT / "pull").glob("*.py")),
    *sorted(p for p in (ROOT / "cli").glob("*.py") if p.name not in {"tui_cmd.py", "cache_cmd.py"}),
    *sorted((ROOT / "config").glob("*.py")),
    *sorted((ROOT / "models").glob("*.py")),
    *[ROOT / f"{name}.py" for name in ("config", "models", "factory", "errors", "atomic")],
]
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def undocumented(path: Path) -> list[str]:
    """``file:line name`` of each public definition (module level or in a class) lacking one."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    missing = [] if ast.get_docstring(tree) else [f"{path.name}:1 (module)"]
    scopes: list[ast.AST] = [tree]
    scopes += [n for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
    for scope in scopes:
        for node in getattr(scope, "body", []):
            if not isinstance(node, Definition) or node.name.startswith("_"):
                continue
            if not ast.get_docstring(node):
                missing.append(f"{path.name}:{node.lineno} {node.name}")
    return missing


def test_core_files_are_found() -> None:
    names = {p.name for p in CORE if p.exists()}
    assert {"store.py", "database.py", "selection.py", "main.py", "factory.py"} <= names


def test_every_public_definition_has_a_docstring() -> None:
    missing = [item for path in CORE if path.exists() for item in undocumented(path)]
    assert missing == []
