"""Files the user attaches to a message: read and checked from disk, then counted and fitted.

Reading (:func:`read_attachments`) needs no model and runs before anything loads or is saved:
the path is opened exactly as given (never globbed, never searched for), and refused in one
line when it is missing, unreadable, a directory or another non-regular file, binary (a NUL
byte) or not UTF-8 text. A path that goes through a symbolic link is followed — the user named
it — and the resolved target is reported with the file so the front end can show it.

Counting and fitting need the engine's tokenizer and go through ``engine.preview``, the same
request → prompt path that ``generate``, ``tokens`` and the app's inspector use:
:func:`attachment_tokens` counts one file (the app's chips), :func:`check_files_fit` refuses a
request whose newest message's files cannot fit the context window — a file larger than the
window (its tokens and the window), or files that do not fit together (which to leave out).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from starling_tui.disk import human
from starling_tui.engine.base import Engine, PromptPreview
from starling_tui.errors import EngineError, UserError
from starling_tui.prompt.plan import reply_room
from starling_tui.text import describe_unicode_error
from starling_tui.types import Attachment, ChatMessage, ChatRequest, TemplateMode

STDIN = "-"
STDIN_NAME = "stdin"
# Far beyond what any context window holds; refusing here keeps a huge file out of memory.
MAX_FILE_BYTES = 16 * 1024 * 1024
# A token stands for at least one byte of text, so a file of at most this share of the prompt
# budget in bytes always fits: an error previewing it is not about its size.
_SURE_FIT_SHARE = 4
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

Preview = Callable[[ChatRequest], PromptPreview]


class AttachmentError(UserError):
    """An attached file cannot be used: unreadable, binary, or too large for the context."""


@dataclass(frozen=True)
class AttachedFile:
    """A file read for attaching: what the model gets, and where it really came from."""

    attachment: Attachment
    resolved: Path | None = None  # the real path, when a symbolic link was followed

    @property
    def link_note(self) -> str:
        """``note: NAME is a link to PATH`` when a link was followed, else ''."""
        if self.resolved is None:
            return ""
        return f"note: {self.attachment.name} is a link to {self.resolved}"


# -- reading ----------------------------------------------------------------------------------


def read_attachments(specs: Sequence[str], *, stdin: BinaryIO | None = None) -> list[AttachedFile]:
    """Each path of ``specs`` read as an attachment, in order (``-``: stdin, at most once).

    The same file given twice is refused, so the prompt never carries it twice by mistake.
    """
    if sum(spec == STDIN for spec in specs) > 1:
        raise AttachmentError("stdin ('-') can be attached only once")
    files: list[AttachedFile] = []
    seen: dict[str, str] = {}
    for spec in specs:
        attached = read_attachment(spec, stdin=stdin)
        if spec != STDIN:
            real = os.path.realpath(spec)
            if real in seen:
                raise AttachmentError(f"{spec} is attached twice (also as {seen[real]})")
            seen[real] = spec
        files.append(attached)
    return files


def read_attachment(spec: str, *, stdin: BinaryIO | None = None) -> AttachedFile:
    """The file at ``spec`` (exactly that path; ``-``: all of ``stdin``) as an attachment."""
    if spec == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = stream.read(MAX_FILE_BYTES + 1)
        return AttachedFile(Attachment(STDIN_NAME, decoded(data, "the file on stdin")))
    if not spec:
        raise AttachmentError("an empty file name was given")
    resolved = _link_target(spec)
    where = f"{spec} (a link to {resolved})" if resolved is not None else spec
    data = _read_regular_file(spec, where)
    return AttachedFile(Attachment(spec, decoded(data, where)), resolved)


def _link_target(spec: str) -> Path | None:
    """The real path of ``spec`` when a symbolic link is on the way to it, else None."""
    real = os.path.realpath(spec)
    return Path(real) if real != os.path.abspath(spec) else None


def _read_regular_file(spec: str, where: str) -> bytes:
    """The bytes of a regular file; a one-line error for anything else.

    Opened without blocking and checked on the open descriptor, so a named pipe or a device
    given by mistake is refused instead of hanging, and the file checked is the file read.
    """
    try:
        fd = os.open(spec, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise AttachmentError(f"no such file: {where}") from None
    except OSError as error:
        raise AttachmentError(f"cannot read {where}: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise AttachmentError(f"{where} is a directory; attach the files in it one by one")
        if not stat.S_ISREG(info.st_mode):
            raise AttachmentError(f"{where} is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise AttachmentError(_too_many_bytes(where, info.st_size))
        return _read_all(fd, where)
    finally:
        os.close(fd)


def _read_all(fd: int, where: str) -> bytes:
    """Up to one byte more than :data:`MAX_FILE_BYTES` from ``fd`` (a file may grow)."""
    chunks: list[bytes] = []
    left = MAX_FILE_BYTES + 1
    try:
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as error:
        raise AttachmentError(f"cannot read {where}: {error.strerror or error}") from None
    return b"".join(chunks)


def _too_many_bytes(where: str, size: int) -> str:
    return (f"{where} is {human(size)}: files over {human(MAX_FILE_BYTES)} cannot fit any "
            "context window")


def decoded(data: bytes, where: str) -> str:
    """``data`` as text, or a one-line error saying why it is not a text file."""
    if len(data) > MAX_FILE_BYTES:
        raise AttachmentError(_too_many_bytes(where, len(data)))
    nul = data.find(b"\x00")
    if nul >= 0:
        hint = " (it looks like UTF-16 text: save it as UTF-8)" if data[:2] in _UTF16_BOMS else ""
        raise AttachmentError(f"{where} is a binary file: a NUL byte at byte {nul}{hint}")
    try:
        return data.decode("utf-8-sig")  # a byte-order mark is not part of the text
    except UnicodeDecodeError as error:
        raise AttachmentError(
            f"{where} is not UTF-8 text ({describe_unicode_error(error)})"
        ) from None


# -- counting and fitting ---------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The engine's context window and the share a prompt may use (the reply keeps the rest)."""

    n_ctx: int
    room: int

    @property
    def budget(self) -> int:
        """Tokens the prompt may use."""
        return max(self.n_ctx - self.room, 1)

    def describe(self) -> str:
        """``the 4,096-token context window (3,584 for the prompt, 512 kept for the reply)``."""
        return (f"the {self.n_ctx:,}-token context window ({self.budget:,} for the prompt, "
                f"{self.room:,} kept for the reply)")


def engine_window(engine: Engine, max_tokens: int | None = None) -> Window:
    """The loaded model's window and the room a reply of ``max_tokens`` keeps free."""
    info = engine.info
    if info is None:
        raise EngineError("no model is loaded")
    return Window(info.n_ctx, reply_room(max_tokens, info.n_ctx))


@dataclass(frozen=True)
class TokenCount:
    """A file's tokens; ``exact`` is False for a file too large to preview in one piece."""

    tokens: int
    exact: bool = True

    def __str__(self) -> str:
        return f"{self.tokens:,} tokens" if self.exact else f"about {self.tokens:,} tokens"


def attachment_tokens(engine: Engine, attachment: Attachment, mode: TemplateMode = "auto") -> int:
    """The tokens ``attachment`` adds to a user message, counted by the engine's tokenizer.

    Exact for a file that fits the window; a larger one is counted piece by piece (within a
    few tokens). This is the count the app shows on a file's chip before sending.
    """
    return count_tokens(engine.preview, attachment, engine_window(engine), mode).tokens


def count_tokens(
    preview: Preview, attachment: Attachment, window: Window, mode: TemplateMode = "auto"
) -> TokenCount:
    """The tokens ``attachment`` adds to a user message with no text of its own."""
    try:
        return TokenCount(_added_tokens(preview, ChatMessage("user", "", (attachment,)), mode))
    except EngineError:
        if attachment.size * _SURE_FIT_SHARE <= window.budget:
            raise  # it fits for sure: the engine failed for another reason
    framing = _added_tokens(preview, ChatMessage("user", "", (replace(attachment, text=""),)), mode)
    pieces = sum(_added_tokens(preview, ChatMessage("user", piece), mode)
                 for piece in _pieces(attachment.text, max(window.budget // 2, 16)))
    return TokenCount(framing + pieces, exact=False)


def _added_tokens(preview: Preview, message: ChatMessage, mode: TemplateMode) -> int:
    """Tokens ``message`` has beyond an empty user message, alone in a request."""
    empty = ChatRequest((ChatMessage("user", ""),), mode=mode)
    full = preview(replace(empty, messages=(message,)))
    return len(full.token_ids) - len(preview(empty).token_ids)


def _pieces(text: str, max_bytes: int) -> Iterator[str]:
    """``text`` in consecutive pieces of whole lines, each at most ``max_bytes`` (UTF-8)."""
    piece, size = "", 0
    for line in text.splitlines(keepends=True):
        length = len(line.encode("utf-8"))
        if size + length > max_bytes and piece:
            yield piece
            piece, size = "", 0
        if length > max_bytes:  # one very long line: by characters (at most 4 bytes each)
            step = max(max_bytes // 4, 1)
            yield from (line[i:i + step] for i in range(0, len(line), step))
            continue
        piece, size = piece + line, size + length
    if piece:
        yield piece


def check_files_fit(engine: Engine, request: ChatRequest) -> None:
    """Refuse, in one line, a request whose newest message's files cannot fit the window.

    The request is previewed as it will be sent (older turns leave as ``context_overflow``
    says); only when that fails are the files counted, to name the file larger than the window
    or the files to leave out. Any other failure is raised as the engine reported it.
    """
    if not request.messages or not request.messages[-1].attachments:
        return
    try:
        engine.preview(request)
    except EngineError:
        window = engine_window(engine, request.sampling.max_tokens)
        explain_overflow(engine.preview, request, window)
        raise


def explain_overflow(preview: Preview, request: ChatRequest, window: Window) -> None:
    """Raise :class:`AttachmentError` when the newest message's files explain why ``request``
    does not fit ``window``: one file too large, or which files to leave out."""
    message = request.messages[-1]
    counts = [count_tokens(preview, a, window, request.mode) for a in message.attachments]
    for attachment, count in zip(message.attachments, counts, strict=True):
        if count.tokens > window.budget:
            raise AttachmentError(
                f"{attachment.name} is too large: {count}, more than {window.describe()}"
            )
    try:
        base = len(preview(replace(request, messages=(replace(message, attachments=()),))
                           ).token_ids)
    except EngineError:
        return  # the message's own text does not fit: the engine's error says so
    need = base + sum(c.tokens for c in counts)
    if need <= window.budget:
        return  # the files are not what overflows
    dropped = _files_to_leave_out(message.attachments, counts, need - window.budget)
    listed = ", ".join(f"{a.name} ({c})" for a, c in dropped)
    raise AttachmentError(
        f"the files do not fit together: with the message they need {need:,} tokens, "
        f"more than {window.describe()}; leave out {listed}"
    )


def _files_to_leave_out(
    attachments: Sequence[Attachment], counts: Sequence[TokenCount], excess: int
) -> list[tuple[Attachment, TokenCount]]:
    """The fewest files (largest first) whose tokens cover ``excess``, in the order given."""
    by_size = sorted(range(len(attachments)), key=lambda i: counts[i].tokens, reverse=True)
    chosen: list[int] = []
    freed = 0
    for index in by_size:
        if freed >= excess:
            break
        chosen.append(index)
        freed += counts[index].tokens
    return [(attachments[i], counts[i]) for i in sorted(chosen)]
