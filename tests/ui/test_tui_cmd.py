"""The ``tui`` command's wiring: flags and settings into the app's services."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from starling_tui.cli import tui_cmd
from starling_tui.errors import HistoryError, ModelFileError
from starling_tui.history.store import HistoryStore


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    tui_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["tui", *argv])


def test_services_from_flags_config_and_models_folder(isolated_home: Path) -> None:
    models = isolated_home / "data" / "models"
    models.mkdir(parents=True)
    (models / "only-Q4_K_M.gguf").write_bytes(b"GGUF")
    (isolated_home / "config").mkdir()
    (isolated_home / "config" / "config.toml").write_text(
        'theme = "nord"\n[sampling]\ntemperature = 0.3\n')
    with HistoryStore(isolated_home / "data" / "history.db") as store:
        conv = store.create_conversation()
    services = tui_cmd.build_services(parse("--ctx", "2048", "--top-p", "0.5",
                                            "--conversation", conv.id[:4]))
    try:
        assert services.model_path == str(models / "only-Q4_K_M.gguf")
        assert services.engine_options(services.model_path).n_ctx == 2048
        settings = services.settings
        assert (settings.temperature, settings.top_p) == (0.3, 0.5)
        assert settings.theme == "nord" and services.conversation_id == conv.id
        assert services.available_models() == [models / "only-Q4_K_M.gguf"]
        assert not services.new_chat
    finally:
        services.engine.close()
        services.store.close()


def test_no_model_means_the_welcome_screen_but_a_bad_model_flag_is_an_error() -> None:
    services = tui_cmd.build_services(parse("--new"))
    try:
        assert services.model_path == "" and services.new_chat
    finally:
        services.engine.close()
        services.store.close()
    with pytest.raises(ModelFileError):
        tui_cmd.build_services(parse("--model", "/no/such.gguf"))
    with pytest.raises(HistoryError):
        tui_cmd.build_services(parse("--conversation", "ffffffff"))


def test_conversation_and_new_are_exclusive() -> None:
    with pytest.raises(SystemExit):
        parse("--new", "--conversation", "abc")
