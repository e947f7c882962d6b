"""One chat message: a header (role, branch position, marks) over its body.

A user message's files come first, one collapsed line each (:class:`.attachments.FileView`).

A user message shows exactly as typed (plain text: line breaks and indentation kept, nothing
read as Markdown). A reply is Markdown where every line break of the model counts (a list
written one item per line stays one per line); it streams into the body through a
:class:`MarkdownFeed`, which coalesces fragments so a fast engine never forces a re-render per
batch, in appends small enough not to stall key presses.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Markdown, Static

from starling_tui.types import Attachment
from starling_tui.ui import gc_pauses
from starling_tui.ui.widgets.attachments import FileView
from starling_tui.ui.widgets.markdown_feed import MarkdownFeed

FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.DOTALL | re.MULTILINE)
MARKS = {
    "cancelled": "stopped",
    "incomplete": "incomplete",
    "error": "failed",
    "length": "cut at max tokens",
    "repetition": "cut: repeating itself",  # the loop guard stopped it
}


def _keep_line_breaks(state: StateCore) -> None:
    """Turn every soft line break into a hard one (markdown-it's ``breaks`` option does this
    only when rendering HTML; Textual reads the tokens)."""
    for token in state.tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type = "hardbreak"


def reply_parser() -> MarkdownIt:
    """Textual's Markdown flavour, with a line break wherever the model wrote one (plain
    Markdown joins the lines of a paragraph, so "one per line" lists became one run-on line)."""
    parser = MarkdownIt("gfm-like")
    parser.core.ruler.push("keep_line_breaks", _keep_line_breaks)
    return parser


def code_blocks(markdown: str) -> list[str]:
    """The bodies of the fenced code blocks in ``markdown``, in order.

    An unterminated fence at the end (a reply stopped mid-block) counts as a block too.
    """
    blocks = [m.group(2) for m in FENCE.finditer(markdown)]
    tail = FENCE.sub("", markdown)
    opened = re.search(r"^(```|~~~)[^\n]*\n(.*)\Z", tail, re.DOTALL | re.MULTILINE)
    if opened:
        blocks.append(opened.group(2))
    return blocks


class MessageView(Vertical, can_focus=True):
    """A message in the chat log; focusable so actions can target it."""

    DEFAULT_CSS = """
    MessageView {
        height: auto;
        margin: 0;  /* the body's last paragraph margin separates messages */
        padding: 0 1;
        border-left: wide $primary-muted;
    }
    MessageView.user { border-left: wide $secondary; background: $boost; }
    MessageView.assistant { border-left: wide $primary; }
    MessageView:focus { border-left: wide $accent; background: $accent 10%; }
    MessageView > .message-header { color: $text-muted; text-style: bold; width: 1fr; }
    MessageView > Markdown { padding: 0; margin: 0; }
    MessageView > .message-text { width: 1fr; margin: 0 0 1 0; }
    """

    def __init__(
        self,
        message_id: int,
        role: str,
        content: str,
        *,
        finish_reason: str | None = None,
        branch: tuple[int, int] = (1, 1),
        attachments: tuple[Attachment, ...] = (),
    ) -> None:
        super().__init__(classes=role)
        self.message_id = message_id
        self.role = role
        self.content = content
        self.finish_reason = finish_reason
        self.branch = branch
        self.attachments = attachments
        self._feed: MarkdownFeed | None = None

    def compose(self) -> ComposeResult:
        yield Label(self.header_text(), classes="message-header", markup=False)
        for attachment in self.attachments:
            yield FileView(attachment)
        if self.role == "user":
            yield Static(self.content, classes="message-text", markup=False)
        else:
            yield Markdown(self.content, parser_factory=reply_parser)

    def header_text(self) -> str:
        """``You`` / ``Assistant``, then ``‹2/3›`` on a branch and a mark for unfinished replies."""
        parts = ["You" if self.role == "user" else self.role.title()]
        index, count = self.branch
        if count > 1:
            parts.append(f"‹{index}/{count}›")
        mark = MARKS.get(self.finish_reason or "")
        if mark:
            parts.append(f"[{mark}]")
        return " ".join(parts)

    def set_file_tokens(self, tokens: dict[str, int]) -> None:
        """Show the token counts of this message's files (``tokens``: by SHA-256)."""
        for view in self.query_children(FileView):
            count = tokens.get(view.attachment.sha256)
            if count is not None and view.tokens != count:
                view.set_tokens(count)

    def _refresh_header(self) -> None:
        for header in self.query(".message-header").results(Label):
            header.update(self.header_text())

    def set_finish_reason(self, reason: str | None) -> None:
        """Mark the reply as stopped, incomplete, failed… (or clear the mark)."""
        self.finish_reason = reason
        self._refresh_header()

    def append(self, text: str) -> None:
        """Stream more reply text into the body (rendered by the feed, without waiting)."""
        self.content += text
        if self._feed is None:
            # Each rendered append's new widgets are settled at once, while they are few: a
            # collection then walks only those, where waiting for the reply's end walks every
            # widget of the reply at once (a stall a key press would feel).
            self._feed = MarkdownFeed(self.query_one(Markdown), after_append=gc_pauses.settle)
        self._feed.write(text)

    async def end_stream(self) -> None:
        """Render what is still queued; the body then holds the whole reply."""
        if self._feed is not None:
            await self._feed.close()
            self._feed = None

    def on_markdown_table_of_contents_updated(
        self, event: Markdown.TableOfContentsUpdated
    ) -> None:
        # Nothing above shows a table of contents. Stopped here, the message (which refers to
        # the whole Markdown) is not left in the app's message loop after a new chat, where it
        # kept the removed reply's widgets alive until the next release (see gc_pauses).
        event.stop()

    def on_unmount(self) -> None:
        if self._feed is not None:  # removed mid-reply (a new chat): stop rendering into it
            self._feed.cancel()

    def code_blocks(self) -> list[str]:
        """The fenced code blocks of this message."""
        return code_blocks(self.content)
