"""The shared value types: a leaf module, with the settings table's defaults."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import starling_tui.types as types
from starling_tui.chat.sampling import sampling_from_settings
from starling_tui.config import Settings
from starling_tui.engine.base import EngineOptions
from starling_tui.factory import engine_options


def test_types_is_a_leaf() -> None:
    tree = ast.parse(Path(types.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
         for alias in node.names}
    assert not any(name.startswith("starling_tui") for name in imported), imported


def test_neutral_sampling_equals_the_settings_tables_defaults() -> None:
    assert types.SamplingOptions() == sampling_from_settings(Settings())


def test_engine_options_default_to_the_settings_table() -> None:
    built = engine_options(Settings(), "m.gguf")
    for field in dataclasses.fields(EngineOptions):
        if field.name in ("model_path", "state_cache_dir"):
            continue
        assert getattr(EngineOptions("m.gguf"), field.name) == getattr(built, field.name), field


def test_an_unknown_overflow_policy_is_refused_not_mapped() -> None:
    assert types.overflow_policy("drop") == "drop"
    with pytest.raises(ValueError, match="use one of shift, drop, error"):
        types.overflow_policy("shfit")


def test_an_attachment_knows_its_size_and_digest() -> None:
    file = types.Attachment("a.txt", "héllo\n")
    assert file.size == 7
    assert file.sha256 == "b95becd154aa095f76c4ca47a5aeb8350d6dfcb838404edfc9dae06628de938d"
