"""Pilot tests of files in the app: the picker (F4) with path completion from the working
folder, the chips under the prompt box, a pasted path, and a sent message's files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pilot_helpers import SIZE, ready, screen_text, type_ahead, views, wait_for
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from starling_tui.chat.attachments import attachment_tokens
from starling_tui.engine.fake import FakeEngine
from starling_tui.history.store import HistoryStore
from starling_tui.types import Attachment
from starling_tui.ui.app import StarlingApp
from starling_tui.ui.screens.chat import ChatScreen
from starling_tui.ui.screens.confirm import ConfirmScreen
from starling_tui.ui.screens.file_picker import FilePickerScreen
from starling_tui.ui.services import Services
from starling_tui.ui.widgets.attachments import FileChip, FileHeader, FileView
from starling_tui.ui.widgets.prompt_input import PromptInput

MakeServices = Callable[..., Services]
NOTES = "# Notes\n\nbuy milk\ncall the bank\n"
CODE = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder the app starts in: two files and a sub-folder with one."""
    (tmp_path / "notes.md").write_text(NOTES)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "calc.py").write_text(CODE)
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01binary")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def chips(screen: ChatScreen) -> list[str]:
    return [chip.file.label() for chip in screen.query(FileChip)]


async def open_picker(pilot: Pilot[None]) -> FilePickerScreen:
    """Press F4 and wait for the file picker."""
    await pilot.press("f4")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, FilePickerScreen))
    screen = pilot.app.screen
    assert isinstance(screen, FilePickerScreen)
    return screen


async def type_in_picker(pilot: Pilot[None], path: str) -> None:
    """Open the picker and enter ``path`` in it."""
    await open_picker(pilot)
    await pilot.press(*path, "enter")


async def test_f4_picks_a_file_with_completion_and_shows_its_chip_with_tokens(
    make_services: MakeServices, folder: Path,
) -> None:
    engine = FakeEngine(["ok"])
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        picker = await open_picker(pilot)
        listed = picker.query_one(OptionList)
        assert [listed.get_option_at_index(i).id for i in range(listed.option_count)] == [
            "sub/", "blob.bin", "notes.md"]  # folders first; hidden ones only after a dot
        await pilot.press("s", "tab")  # completes the only match, a folder: opens it
        assert picker.query_one(Input).value == "sub/"
        await wait_for(pilot, lambda: listed.option_count == 1
                       and listed.get_option_at_index(0).id == "calc.py")
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: len(chips(screen)) == 1)
        expected = attachment_tokens(engine, Attachment("sub/calc.py", CODE))
        await wait_for(pilot, lambda: f"{expected} tokens" in chips(screen)[0],
                       what="the chip's token count")
        await wait_for(pilot, lambda: "calc.py" in screen_text(pilot)
                       and f"{expected} tokens" in screen_text(pilot), what="the chip on screen")
        assert screen.query_one(PromptInput).has_focus


async def test_chips_are_removable_and_go_with_the_message(
    make_services: MakeServices, store: HistoryStore, folder: Path,
) -> None:
    engine = FakeEngine(["Noted."])
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        for name in ("notes.md", "sub/calc.py"):
            await type_in_picker(pilot, name)
            await wait_for(pilot, lambda n=name: any(n.split("/")[-1] in c  # type: ignore[misc]
                                                     for c in chips(screen)))
        assert len(chips(screen)) == 2
        await pilot.press("tab")  # from the prompt box to the first chip
        assert isinstance(screen.focused, FileChip) and "notes.md" in screen.focused.file.label()
        await pilot.press("delete")
        await wait_for(pilot, lambda: len(chips(screen)) == 1)
        assert "calc.py" in chips(screen)[0]
        assert screen.query_one(PromptInput).has_focus
        await pilot.press(*"Add type hints", "enter")
        await wait_for(pilot, lambda: len(views(pilot)) == 2
                       and screen.controller.state.reply_id is None)
        sent = engine.requests[-1].messages[-1]
        assert sent.content == "Add type hints"
        assert [(a.name, a.text) for a in sent.attachments] == [("sub/calc.py", CODE)]
        assert chips(screen) == []  # the files went with the message
        (conversation,) = store.list_conversations()
        saved = store.active_path(conversation.id)[0]
        assert [a.text for a in saved.attachments] == [CODE]
        # the chat view shows the file collapsed, with its size and tokens; Enter opens it
        view = views(pilot)[0].query_one(FileView)
        await wait_for(pilot, lambda: view.tokens is not None, what="the file's tokens")
        await wait_for(pilot, lambda: "calc.py" in screen_text(pilot), what="the file's line")
        assert "return a + b" not in screen_text(pilot)
        views(pilot)[0].query_one(FileHeader).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "return a + b" in screen_text(pilot))


async def test_f7_shows_the_prompt_with_the_attached_files(
    make_services: MakeServices, folder: Path,
) -> None:
    """The inspector's ids are those the message would send: the chips' files included."""
    engine = FakeEngine(["ok"])
    app = StarlingApp(make_services(engine=engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await type_in_picker(pilot, "sub/calc.py")
        await wait_for(pilot, lambda: len(chips(screen)) == 1)
        for text in ("Add type hints", ""):  # a message of files alone is sent too
            screen.query_one(PromptInput).load_text(text)
            await pilot.press("f7")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "InspectorScreen")
            preview = app.screen.preview  # type: ignore[attr-defined]
            expected = screen.controller.core.preview(
                None, text, attachments=[Attachment("sub/calc.py", CODE)])
            assert "return a + b" in preview.rendered
            assert list(preview.token_ids) == list(expected.token_ids)
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        assert len(chips(screen)) == 1  # looking sends nothing and keeps the file
        assert engine.requests == []


async def test_a_pasted_path_offers_to_attach_the_file(
    make_services: MakeServices, folder: Path,
) -> None:
    app = StarlingApp(make_services(["ok"]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        prompt = screen.query_one(PromptInput)
        prompt.post_message(events.Paste(f"'{folder / 'notes.md'}'"))  # as a dropped file
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen)
                       and "notes.md" in screen_text(pilot), what="the question")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: len(chips(screen)) == 1 and app.screen is screen)
        assert prompt.text == ""
        prompt.post_message(events.Paste("sub/calc.py"))  # relative to the working folder
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen)
                       and "Paste the text" in screen_text(pilot))
        await pilot.click("#cancel")  # paste the text after all
        await wait_for(pilot, lambda: prompt.text == "sub/calc.py")
        assert len(chips(screen)) == 1
        prompt.post_message(events.Paste("just some words"))  # no file: pasted as it is
        await wait_for(pilot, lambda: prompt.text.endswith("just some words"))


async def test_a_binary_file_is_refused_in_one_line(
    make_services: MakeServices, folder: Path,
) -> None:
    app = StarlingApp(make_services(["ok"]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await type_in_picker(pilot, "blob.bin")
        await wait_for(pilot, lambda: any("binary" in n.message for n in app._notifications))
        assert chips(screen) == []


async def test_tab_completes_what_a_fast_typist_typed_before_it(
    make_services: MakeServices, folder: Path,
) -> None:
    app = StarlingApp(make_services(["ok"]))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_picker(pilot)
        type_ahead(pilot, "s", "tab")  # one terminal read: the s must be in before Tab
        box = app.screen.query_one(Input)
        await wait_for(pilot, lambda: box.value == "sub/", what="sub/ completed")
