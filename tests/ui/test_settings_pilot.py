"""Pilot tests of the settings screen, built from the settings table (FakeEngine)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

from pilot_helpers import SIZE, ready, send, wait_for
from textual.widgets import Input, Select, Switch

from starling_tui import factory
from starling_tui.config import SETTINGS
from starling_tui.engine.base import EngineOptions, ModelInfo
from starling_tui.engine.fake import FakeEngine
from starling_tui.ui.app import StarlingApp
from starling_tui.ui.screens.settings import SettingsScreen
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.setting_field import SettingField

MakeServices = Callable[..., Services]
NEW_KEYS = ("context_overflow", "context_shift_share", "self_extend", "self_extend_window",
            "engine_url", "loop_guard")


class RecordingEngine(FakeEngine):
    """Remembers the options of every load."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.loads: list[EngineOptions] = []

    def load(self, options: EngineOptions) -> ModelInfo:
        self.loads.append(options)
        return super().load(options)


async def open_settings(pilot) -> SettingsScreen:  # type: ignore[no-untyped-def]
    await pilot.press("f9")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SettingsScreen))
    return pilot.app.screen  # type: ignore[no-any-return]


def field(dialog: SettingsScreen, name: str) -> SettingField:
    return dialog.query_one(f"#setting-{name}", SettingField)


async def test_every_setting_of_the_table_has_a_row_of_its_kind(
    make_services: MakeServices,
) -> None:
    app = StarlingApp(make_services())
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        dialog = await open_settings(pilot)
        rows = {f.spec.name: f for f in dialog.query(SettingField)}
        assert list(rows) == [s.name for s in SETTINGS if s.name != "model"]
        assert set(NEW_KEYS) <= set(rows)
        assert rows["loop_guard"].query_one(Switch).value is True
        overflow = rows["context_overflow"].query_one(Select)
        assert overflow.value == "shift"
        assert [str(o[0]) for o in overflow._options] == ["shift", "drop", "error"]
        assert rows["self_extend"].query_one(Input).value == "1"
        assert rows["engine_url"].query_one(Input).value == ""


async def test_a_bad_value_is_refused_with_the_table_s_message(
    make_services: MakeServices, isolated_home: Path
) -> None:
    app = StarlingApp(make_services(save_settings=factory.save_setting_changes))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        dialog = await open_settings(pilot)
        field(dialog, "temperature").query_one(Input).value = "9"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog  # still open
        assert any("between 0 and 5" in n.message for n in app._notifications)
        assert not (isolated_home / "config" / "config.toml").exists()


async def test_new_engine_keys_save_and_reload_the_model(
    make_services: MakeServices, isolated_home: Path
) -> None:
    engine = RecordingEngine(["ok"])
    services = make_services(engine=engine, save_settings=factory.save_setting_changes)
    app = StarlingApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        dialog = await open_settings(pilot)
        field(dialog, "context_overflow").query_one(Select).value = "drop"
        field(dialog, "self_extend").query_one(Input).value = "2"
        field(dialog, "loop_guard").query_one(Switch).value = False
        await pilot.press("ctrl+s")
        config = isolated_home / "config" / "config.toml"
        await wait_for(pilot, config.exists)
        saved = tomllib.loads(config.read_text())
        assert saved["engine"] == {"context_overflow": "drop", "self_extend": 2}
        assert saved["sampling"] == {"loop_guard": False}
        await wait_for(pilot, lambda: len(engine.loads) == 2, what="the reload")
        assert (engine.loads[-1].context_overflow, engine.loads[-1].self_extend) == ("drop", 2)
        await send(pilot, "hi")
        assert engine.requests[-1].sampling.loop_guard is False


async def test_settings_apply_and_save_to_the_config_file(
    make_services: MakeServices, isolated_home: Path
) -> None:
    engine = FakeEngine(["ok"])
    services = make_services(engine=engine, save_settings=factory.save_setting_changes)
    app = StarlingApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("f9")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SettingsScreen")
        dialog = app.screen
        for key, value in [("n_gpu_layers", "12"), ("ctx", "2048"), ("threads", "2"),
                           ("temperature", "0.6"), ("top_p", "0.9"), ("max_tokens", "100")]:
            dialog.query_one(f"#setting-{key} Input").value = value  # type: ignore[attr-defined]
        dialog.query_one("#setting-theme Select").value = "nord"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        config = isolated_home / "config" / "config.toml"
        await wait_for(pilot, config.exists)
        saved = tomllib.loads(config.read_text())
        assert saved["theme"] == "nord"
        assert saved["engine"] == {"n_gpu_layers": 12, "ctx": 2048, "threads": 2}
        assert saved["sampling"] == {"temperature": 0.6, "top_p": 0.9, "max_tokens": 100}
        assert app.theme == "nord"
        state = screen.controller.state
        await wait_for(pilot, lambda: state.model_info is not None
                       and state.model_info.n_ctx == 2048)  # reloaded with the new context
        assert services.settings.n_gpu_layers == 12
        await send(pilot, "hi")
        assert engine.requests[-1].sampling.temperature == 0.6
