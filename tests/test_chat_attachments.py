"""Attaching files: reading them from disk (one-line refusals) and counting and fitting them."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from starling_tui.chat import attachments as files
from starling_tui.chat.attachments import (
    AttachmentError,
    TokenCount,
    Window,
    attachment_tokens,
    check_files_fit,
    count_tokens,
    read_attachment,
    read_attachments,
)
from starling_tui.engine.base import EngineOptions, PromptPreview
from starling_tui.engine.fake import FakeEngine
from starling_tui.errors import EngineError, UserError
from starling_tui.prompt.attachments import render_attachment
from starling_tui.prompt.parts import PromptTokenizer, render_parts
from starling_tui.prompt.plan import plan_prompt
from starling_tui.types import Attachment, ChatMessage, ChatRequest, SamplingOptions


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message and isinstance(error.value, UserError)
    return message


# -- reading ----------------------------------------------------------------------------------


def test_a_text_file_is_read_under_the_name_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 'é'\n", encoding="utf-8")
    attached = read_attachment("src/a.py")
    assert attached.attachment == Attachment("src/a.py", "x = 'é'\n")
    assert attached.resolved is None and attached.link_note == ""


def test_a_missing_path_is_one_line_and_never_globbed(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.py").write_text("x")
    with pytest.raises(AttachmentError) as caught:
        read_attachment("*.py")
    assert one_line(caught) == "no such file: *.py"
    with pytest.raises(AttachmentError) as caught:
        read_attachment("nope/b.py")
    assert one_line(caught) == "no such file: nope/b.py"


def test_an_unreadable_path_says_why(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x")
    with pytest.raises(AttachmentError) as caught:
        read_attachment(str(tmp_path / "a.py" / "inside"))
    assert one_line(caught).endswith("inside: Not a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_says_so(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    secret.chmod(0)
    with pytest.raises(AttachmentError) as caught:
        read_attachment(str(secret))
    assert one_line(caught) == f"cannot read {secret}: Permission denied"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AttachmentError) as caught:
        read_attachment(str(tmp_path))
    assert one_line(caught) == f"{tmp_path} is a directory; attach the files in it one by one"


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(AttachmentError) as caught:
        read_attachment(str(fifo))  # a blocking open would hang here
    assert one_line(caught) == f"{fifo} is not a regular file"


def test_binary_files_say_which_kind(tmp_path: Path) -> None:
    (tmp_path / "nul.bin").write_bytes(b"abc\x00def")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "utf16.txt").write_bytes("hi".encode("utf-16"))
    with pytest.raises(AttachmentError) as caught:
        read_attachment(str(tmp_path / "nul.bin"))
    assert one_line(caught).endswith("nul.bin is a binary file: a NUL byte at byte 3")
    with pytest.raises(AttachmentError) as caught:
        read_attachment(str(tmp_path / "latin1.txt"))
    assert one_line(caught).endswith("latin1.txt is not UTF-8 text (byte 0xe9 at byte 3)")
    with pytest.raises(AttachmentError) as caught:
        read_attachment(str(tmp_path / "utf16.txt"))
    assert one_line(caught).endswith("(it looks like UTF-16 text: save it as UTF-8)")


def test_a_byte_order_mark_is_not_part_of_the_text(tmp_path: Path) -> None:
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfhello\r\n")
    assert read_attachment(str(tmp_path / "bom.txt")).attachment.text == "hello\r\n"


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.log"
    with huge.open("wb") as handle:
        handle.truncate(files.MAX_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(AttachmentError) as caught:
        read_attachment(str(huge))
    assert one_line(caught) == (
        f"{huge} is 16.8 MB: files over 16.8 MB cannot fit any context window")


def test_a_link_is_followed_and_its_target_shown(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.py").write_text("print(1)\n")
    (tmp_path / "link.py").symlink_to(real / "a.py")
    (tmp_path / "linkdir").symlink_to(real)
    attached = read_attachment(str(tmp_path / "link.py"))
    assert attached.attachment.text == "print(1)\n"
    assert attached.attachment.name == str(tmp_path / "link.py")  # the name given
    assert attached.resolved == real / "a.py"
    assert attached.link_note == f"note: {tmp_path / 'link.py'} is a link to {real / 'a.py'}"
    assert read_attachment(str(tmp_path / "linkdir" / "a.py")).resolved == real / "a.py"


def test_a_dangling_link_names_its_target(tmp_path: Path) -> None:
    (tmp_path / "gone.py").symlink_to(tmp_path / "missing.py")
    with pytest.raises(AttachmentError) as caught:
        read_attachment(str(tmp_path / "gone.py"))
    assert one_line(caught) == (
        f"no such file: {tmp_path / 'gone.py'} (a link to {tmp_path / 'missing.py'})"
    )


def test_stdin_is_read_once_and_checked_like_a_file() -> None:
    attached = read_attachment("-", stdin=io.BytesIO(b"from stdin\n"))
    assert attached.attachment == Attachment("stdin", "from stdin\n")
    with pytest.raises(AttachmentError) as caught:
        read_attachment("-", stdin=io.BytesIO(b"\xff"))
    assert one_line(caught) == "the file on stdin is not UTF-8 text (byte 0xff at byte 0)"
    with pytest.raises(AttachmentError) as caught:
        read_attachments(["-", "-"], stdin=io.BytesIO(b"x"))
    assert one_line(caught) == "stdin ('-') can be attached only once"


def test_the_same_file_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.py").write_text("x")
    assert len(read_attachments(["a.py"])) == 1
    with pytest.raises(AttachmentError) as caught:
        read_attachments(["a.py", "./a.py"])
    assert one_line(caught) == "./a.py is attached twice (also as a.py)"


def test_files_keep_the_order_given(tmp_path: Path) -> None:
    for name in ("b.txt", "a.txt"):
        (tmp_path / name).write_text(name)
    names = [f.attachment.text for f in read_attachments(
        [str(tmp_path / "b.txt"), str(tmp_path / "a.txt")])]
    assert names == ["b.txt", "a.txt"]


# -- counting and fitting ---------------------------------------------------------------------


class CharEngine(FakeEngine):
    """A fake engine whose preview is the real prompt planner over a one-id-per-character
    tokenizer: token counts are character counts, fitting is the engine's own."""

    def __init__(self, n_ctx: int) -> None:
        super().__init__(n_ctx=n_ctx)
        self.load(EngineOptions(model_path="/m.gguf", n_ctx=n_ctx))
        self.tok = PromptTokenizer(encode=lambda t: [ord(c) for c in t], bos_id=1, eot_id=2,
                                   special_ids={"<|end_of_turn|>": 2})
        self.previews = 0

    def preview(self, request: ChatRequest) -> PromptPreview:
        from starling_tui.prompt.builder import build_parts

        self.previews += 1
        try:
            fitted, fmt = plan_prompt(request, self.tok, None, self._n_ctx, policy="shift",
                                      shift_share=0.25)
        except ValueError as error:
            raise EngineError(str(error)) from error
        rendered = render_parts(build_parts(fitted.messages, fmt, self.tok, None))
        return PromptPreview(tuple(fitted.ids), rendered, fitted.dropped_messages)


def text_file(name: str, chars: int) -> Attachment:
    line = "abcdefghi\n"
    return Attachment(name, (line * (chars // len(line) + 1))[:chars])


def test_a_file_counts_the_tokens_it_adds_to_the_turn() -> None:
    engine = CharEngine(4096)
    code = text_file("a.py", 300)
    assert attachment_tokens(engine, code) == len(render_attachment(code))


def test_a_file_larger_than_the_window_is_counted_in_pieces() -> None:
    engine = CharEngine(1024)  # 512 for the prompt, 512 for the reply
    big = text_file("big.py", 5000)
    window = Window(1024, 512)
    count = count_tokens(engine.preview, big, window)
    assert not count.exact and str(count).startswith("about ")
    assert abs(count.tokens - len(render_attachment(big))) <= 2
    assert attachment_tokens(engine, big) == count.tokens


def test_one_very_long_line_is_counted_in_pieces_too() -> None:
    engine = CharEngine(1024)
    minified = Attachment("app.min.js", "é" * 3000)  # two bytes a character, no newline
    count = count_tokens(engine.preview, minified, Window(1024, 512))
    assert not count.exact and abs(count.tokens - len(render_attachment(minified))) <= 2


def test_a_file_larger_than_the_window_is_refused_with_its_tokens_and_the_window() -> None:
    engine = CharEngine(1024)
    big = text_file("big.py", 5000)
    request = ChatRequest((ChatMessage("user", "Explain", (big,)),))
    with pytest.raises(AttachmentError) as caught:
        check_files_fit(engine, request)
    assert re.fullmatch(
        r"big\.py is too large: about 5,0\d\d tokens, more than the 1,024-token context window "
        r"\(512 for the prompt, 512 kept for the reply\)", one_line(caught))


def test_files_that_do_not_fit_together_name_the_ones_to_leave_out() -> None:
    engine = CharEngine(2048)  # 1,536 for the prompt with the default reply room
    small, large, medium = text_file("a.py", 300), text_file("b.py", 900), text_file("c.py", 600)
    request = ChatRequest((ChatMessage("user", "Compare", (small, large, medium)),))
    with pytest.raises(AttachmentError) as caught:
        check_files_fit(engine, request)
    message = one_line(caught)
    assert message.startswith("the files do not fit together: with the message they need ")
    assert message.endswith(
        "more than the 2,048-token context window (1,536 for the prompt, 512 kept for the "
        f"reply); leave out b.py ({len(render_attachment(large))} tokens)")
    request = ChatRequest((ChatMessage("user", "Compare", (small, medium)),))
    check_files_fit(engine, request)  # without b.py it fits


def test_older_turns_make_room_for_a_file_as_the_window_policy_says() -> None:
    engine = CharEngine(2048)
    old = tuple(m for i in range(20) for m in (ChatMessage("user", f"q{i} " + "." * 50),
                                                ChatMessage("assistant", "." * 60)))
    request = ChatRequest((*old, ChatMessage("user", "Explain", (text_file("a.py", 1200),))))
    check_files_fit(engine, request)  # fits once old turns are shifted out
    assert engine.preview(request).dropped_messages > 0


def test_the_reply_limit_sets_the_room_the_files_leave() -> None:
    engine = CharEngine(2048)
    request = ChatRequest((ChatMessage("user", "Go", (text_file("a.py", 1700),)),),
                          sampling=SamplingOptions(max_tokens=200))
    check_files_fit(engine, request)  # 1,848 for the prompt with a 200-token reply
    with pytest.raises(AttachmentError, match="1,536 for the prompt, 512 kept"):
        check_files_fit(engine, ChatRequest(request.messages))


def test_a_message_without_files_is_not_previewed() -> None:
    engine = CharEngine(64)
    check_files_fit(engine, ChatRequest((ChatMessage("user", "x" * 500),)))
    assert engine.previews == 0


def test_an_overflow_the_files_do_not_explain_is_the_engines_own_error() -> None:
    engine = CharEngine(1024)
    request = ChatRequest((ChatMessage("user", "y" * 600, (text_file("a.py", 20),)),))
    with pytest.raises(EngineError, match="the last message needs"):
        check_files_fit(engine, request)


def test_token_counts_read_well() -> None:
    assert str(TokenCount(12345)) == "12,345 tokens"
    assert str(TokenCount(12345, exact=False)) == "about 12,345 tokens"
