"""The one llama.cpp layer: only ``starling_tui/llama`` touches llama-cpp-python.

Checked statically over ``starling_tui`` and ``convert``: every import statement (lazy ones
inside functions included) and every call that names the package in a string
(``importlib.import_module("llama_cpp")``, ``find_spec("llama_cpp")``). The supported
llama-cpp-python range is stated once (:mod:`starling_tui.llama.version`) and equals the
dependency ``pyproject.toml`` declares; the engine worker and the converter check the installed
version first, and one outside the range is one line naming it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from starling_tui.llama import version
from starling_tui.llama.version import UnsupportedLlamaVersion, check_version

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


def test_pyproject_declares_the_supported_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [dep for dep in project["dependencies"] if dep.startswith(version.DISTRIBUTION)]
    assert declared == [f"{version.DISTRIBUTION}{version.SUPPORTED}"]
    low, high = version.SUPPORTED.split(",")
    assert low == ">=" + ".".join(map(str, version.MINIMUM))
    assert high == "<" + ".".join(map(str, version.BELOW))


@pytest.mark.parametrize("installed", ["0.3.36", "0.3.36+cu124", "0.3.36.post1"])
def test_a_supported_version_passes(installed: str) -> None:
    check_version(lambda: installed)


@pytest.mark.parametrize("installed", ["0.3.35", "0.3.37", "0.4.0", "1.0", "dev", None])
def test_another_version_is_one_line_naming_the_range(installed: str | None) -> None:
    with pytest.raises(UnsupportedLlamaVersion) as caught:
        check_version(lambda: installed)
    message = str(caught.value)
    assert "\n" not in message
    assert f"llama-cpp-python{version.SUPPORTED}" in message
    assert (installed or "not installed") in message


def test_the_installed_version_is_read_without_importing_llama_cpp() -> None:
    code = ("import sys\nfrom starling_tui.llama.version import check_version\n"
            "check_version()\nprint('llama_cpp' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "False"


def test_the_engine_worker_checks_the_version_before_loading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from starling_tui.engine.base import EngineOptions
    from starling_tui.engine.worker import session

    monkeypatch.setattr(session, "check_version", lambda: check_version(lambda: "0.3.35"))
    with pytest.raises(UnsupportedLlamaVersion, match=r"llama-cpp-python 0\.3\.35 is installed"):
        session.Session(EngineOptions(model_path=str(tmp_path / "absent.gguf")))


def test_the_converter_checks_the_version_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from starling_convert import api
    from starling_convert.errors import ConvertError

    monkeypatch.setattr(api, "check_version", lambda: check_version(lambda: "0.4.0"))
    with pytest.raises(ConvertError, match=r"llama-cpp-python 0\.4\.0 is installed"):
        api.convert_checkpoint(tmp_path / "absent", dry_run=True)
