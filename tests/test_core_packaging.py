"""pyproject.toml declares what the product imports, and the installed versions meet its floors."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
# Declared but never imported by name: loaded by another package at run time.
INDIRECT = {"sentencepiece": "gguf's SentencePieceVocab imports it (the converter's tokenizer)"}


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement(text: str) -> tuple[str, str | None]:
    """(canonical name, floor version or None) of a ``name>=X`` / ``name==X`` requirement."""
    match = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*(?:(>=|==)\s*([0-9][0-9a-z.]*))?", text)
    assert match, text
    return canonical(match.group(1)), match.group(3)


def third_party_imports() -> set[str]:
    """Top-level modules that ``starling_tui`` and ``convert`` import (lazily or not)."""
    found: set[str] = set()
    for package in ("starling_tui", "convert"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"starling_tui", "starling_convert"}


def test_declared_dependencies_are_the_imported_ones() -> None:
    declared = {requirement(dep)[0] for dep in PROJECT["dependencies"]}
    providers = packages_distributions()
    imported = {}
    for module in third_party_imports():
        assert module in providers, f"{module} is imported but not installed"
        imported[module] = {canonical(dist) for dist in providers[module]}
    undeclared = sorted(m for m, dists in imported.items() if not dists & declared)
    assert undeclared == [], "imported but not in [project] dependencies"
    used = set().union(*imported.values()) | set(INDIRECT)
    assert sorted(declared - used) == [], "declared but never imported"


def test_installed_versions_meet_every_floor() -> None:
    groups = [PROJECT["dependencies"], *PROJECT["optional-dependencies"].values()]
    for dep in (dep for group in groups for dep in group):
        name, floor = requirement(dep)
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # an extra this environment did not install
        if floor:
            have = [int(p) for p in re.findall(r"\d+", installed)[:3]]
            want = [int(p) for p in re.findall(r"\d+", floor)[:3]]
            assert have >= want, f"{name} {installed} is below the floor {floor}"


def test_every_package_folder_is_installed_under_its_installed_name() -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    installed_as = {folder: name for name, folder in setuptools["package-dir"].items()}
    assert installed_as == {"convert": "starling_convert"}
    expected = set()
    for init in [*ROOT.glob("starling_tui/**/__init__.py"), *ROOT.glob("convert/**/__init__.py")]:
        parts = init.parent.relative_to(ROOT).parts
        expected.add(".".join((installed_as.get(parts[0], parts[0]), *parts[1:])))
    assert set(setuptools["packages"]) == expected


def test_nothing_imports_the_converter_by_its_folder_name() -> None:
    """``convert`` resolves only from a source checkout; installed, the package is
    ``starling_convert`` (the converter's own modules import each other relatively)."""
    offenders = []
    for folder in ("starling_tui", "convert", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                    else [])
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                              if n.split(".")[0] == "convert"]
    assert offenders == []
