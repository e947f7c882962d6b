"""The parent's model-file check (core's header reader, mapped to EngineError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from starling_tui.engine.parent.gguf_check import check_model_file
from starling_tui.errors import EngineError


def test_sound_file_resolves(smollm2_gguf: Path) -> None:
    assert check_model_file(smollm2_gguf) == smollm2_gguf.resolve()


@pytest.mark.parametrize(
    ("cut", "expected"),
    [(16, "truncated or corrupt"), (200_000, "truncated or corrupt"), (None, "is truncated: ")],
)
def test_truncation_is_caught_before_any_worker(
    tmp_path: Path, smollm2_gguf: Path, cut: int | None, expected: str
) -> None:
    data = smollm2_gguf.read_bytes()
    path = tmp_path / "cut.gguf"
    path.write_bytes(data[: cut if cut is not None else len(data) // 2])
    with pytest.raises(EngineError, match=expected) as caught:
        check_model_file(path)
    assert "\n" not in str(caught.value) and "cut.gguf" in str(caught.value)


def test_lfs_pointer_and_foreign_bytes(tmp_path: Path) -> None:
    lfs = tmp_path / "lfs.gguf"
    lfs.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n")
    with pytest.raises(EngineError, match="git-lfs pointer"):
        check_model_file(lfs)
    html = tmp_path / "page.gguf"
    html.write_bytes(b"<!DOCTYPE html><html>Not found</html>")
    with pytest.raises(EngineError, match="not a GGUF"):
        check_model_file(html)


def test_vocabulary_only_gguf_passes_only_for_vocab_loads(tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "vocab.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("vocab")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert check_model_file(path, vocab_only=True) == path.resolve()
    with pytest.raises(EngineError, match="has no tensors"):
        check_model_file(path)
