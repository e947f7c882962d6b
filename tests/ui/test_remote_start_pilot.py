"""The app chats with a remote server without any local model file."""

from __future__ import annotations

from collections.abc import Callable

from pilot_helpers import SIZE, ready, send, shown

from starling_tui.config import Settings
from starling_tui.ui.app import StarlingApp
from starling_tui.ui.screens.welcome import WelcomeScreen
from starling_tui.ui.services import Services

MakeServices = Callable[..., Services]


async def test_an_engine_url_loads_without_a_model_file(make_services: MakeServices) -> None:
    services = make_services(["Hello from the server"], model="",
                             settings=Settings(engine_url="http://127.0.0.1:9/v1"))
    app = StarlingApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert not isinstance(app.screen, WelcomeScreen)
        await send(pilot, "Hi")
        assert shown(pilot)[-1] == ("assistant", "Hello from the server")


async def test_no_model_and_no_engine_url_still_opens_the_welcome_screen(
        make_services: MakeServices) -> None:
    app = StarlingApp(make_services(model=""))
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(50):
            await pilot.pause(0.05)
            if isinstance(app.screen, WelcomeScreen):
                break
        assert isinstance(app.screen, WelcomeScreen)
