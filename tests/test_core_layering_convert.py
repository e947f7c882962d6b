"""The dependency between the converter and the app runs one way: the converter (the ``convert/``
folder, installed as ``starling_convert``) → ``starling_tui``.

``starling_tui`` never imports the converter (``pull`` runs it as a child process), so the app
works, and its tests mean something, without the converter's code loaded. Checked statically
(every import statement of every module, lazy ones inside functions included) and at run time
(importing every ``starling_tui`` module loads no ``convert`` module).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "starling_tui"
CONVERTER = ("starling_convert", "convert")  # the installed name, and the folder's


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from … import`` in ``path`` names (absolute ones)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


def test_no_starling_tui_module_imports_convert() -> None:
    offenders = {
        str(path.relative_to(PACKAGE.parent)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] in CONVERTER)
        for path in PACKAGE.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from convert.api import x\n    import convert.cli\n")
    assert imported_modules(module) == {"convert.api", "convert.cli"}


def test_importing_every_starling_tui_module_loads_no_convert_module() -> None:
    script = (
        "import importlib, pkgutil, sys, starling_tui\n"
        "for info in pkgutil.walk_packages(starling_tui.__path__, 'starling_tui.'):\n"
        "    if '.ui' in info.name or info.name.endswith('__main__'):\n"
        "        continue  # Textual screens: checked statically above, slow to import\n"
        "    importlib.import_module(info.name)\n"
        "names = {'convert', 'starling_convert'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in names))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
