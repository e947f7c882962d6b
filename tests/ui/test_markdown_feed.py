"""MarkdownFeed: streamed text is coalesced into few, bounded Markdown appends."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Markdown

from starling_tui.ui.widgets.markdown_feed import MarkdownFeed, take_chunk


def test_take_chunk_cuts_at_a_line_end_within_the_limit() -> None:
    assert take_chunk("short", 10) == ("short", "")
    assert take_chunk("ab\ncd\nefgh", 7) == ("ab\ncd\n", "efgh")
    assert take_chunk("abcdefghij", 4) == ("abcd", "efghij")  # no newline: cut at the limit


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Markdown()


async def test_feed_coalesces_writes_and_bounds_each_append() -> None:
    app = Host()
    async with app.run_test() as pilot:
        markdown = app.query_one(Markdown)
        sizes: list[int] = []
        original = markdown.append

        def recording_append(text: str):  # type: ignore[no-untyped-def]
            sizes.append(len(text))
            return original(text)

        markdown.append = recording_append  # type: ignore[method-assign]
        feed = MarkdownFeed(markdown, max_chars=200)
        pieces = [f"line {i} with **bold** text\n\n" for i in range(100)]
        for piece in pieces:  # all written before the feed's task runs once
            feed.write(piece)
        await feed.close()
        await pilot.pause()
        assert markdown.source == "".join(pieces)
        assert max(sizes) <= 200
        assert len(sizes) < len(pieces) // 5  # coalesced, not one append per write
        paragraphs = markdown.query("MarkdownParagraph")
        assert len(paragraphs) == 100 and "bold" in str(paragraphs.last().render())


async def test_feed_refuses_writes_after_close() -> None:
    app = Host()
    async with app.run_test():
        feed = MarkdownFeed(app.query_one(Markdown))
        feed.write("x")
        await feed.close()
        with pytest.raises(RuntimeError):
            feed.write("y")


async def test_feed_calls_after_append_once_each_append_is_rendered() -> None:
    app = Host()
    async with app.run_test():
        markdown = app.query_one(Markdown)
        rendered_at_call: list[str] = []
        feed = MarkdownFeed(markdown, max_chars=50,
                            after_append=lambda: rendered_at_call.append(markdown.source))
        text = "".join(f"line {i}\n\n" for i in range(30))
        feed.write(text)
        await feed.close()
        assert len(rendered_at_call) == feed.appends > 1
        assert rendered_at_call[-1] == text  # called after each append, the last one included
        assert all(text.startswith(source) for source in rendered_at_call)
