"""Every module, public class and public function of ``starling_tui`` and ``convert`` carries a
docstring.

Two kinds of definition are exempt, because what they mean is someone else's contract and is
said once elsewhere: Textual's callbacks (``compose``, ``on_*`` handlers, ``watch_*`` watchers),
which the framework calls by name, and the ``...`` stubs of a ``Protocol``, which its own
docstring describes.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("starling_tui", "convert")
MODULES = sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))
TEXTUAL_CALLBACK_PREFIXES = ("on_", "watch_")
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _is_protocol(node: ast.ClassDef) -> bool:
    return any(ast.unparse(base).split(".")[-1].startswith("Protocol") for base in node.bases)


def _is_stub(node: ast.AST) -> bool:
    """A body of ``...`` alone (a Protocol member)."""
    body = getattr(node, "body", [])
    return (len(body) == 1 and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant) and body[0].value.value is Ellipsis)


def _exempt(node: ast.AST, scope: ast.AST) -> bool:
    name = getattr(node, "name", "")
    if isinstance(scope, ast.ClassDef) and not isinstance(node, ast.ClassDef):
        if name == "compose" or name.startswith(TEXTUAL_CALLBACK_PREFIXES):
            return True
        return _is_protocol(scope) and _is_stub(node)
    return False


def undocumented(path: Path) -> list[str]:
    """``file:line name`` of each public definition (module level or in a class) lacking one."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(REPO)
    missing = [] if ast.get_docstring(tree) else [f"{where}:1 (module)"]
    scopes: list[ast.AST] = [tree]
    scopes += [n for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
    for scope in scopes:
        for node in getattr(scope, "body", []):
            if not isinstance(node, Definition) or node.name.startswith("_"):
                continue
            if not ast.get_docstring(node) and not _exempt(node, scope):
                missing.append(f"{where}:{node.lineno} {node.name}")
    return missing


def test_every_module_of_both_packages_is_checked() -> None:
    checked = {str(p.relative_to(REPO)) for p in MODULES}
    assert {"starling_tui/history/store.py", "starling_tui/engine/worker/session.py",
            "starling_tui/ui/app.py", "starling_tui/llama/backend.py", "convert/api.py",
            "convert/architectures/llama.py"} <= checked
    assert len(checked) > 150


def test_every_public_definition_has_a_docstring() -> None:
    missing = [item for path in MODULES for item in undocumented(path)]
    assert missing == []
