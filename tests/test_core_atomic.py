"""``starling_tui.atomic``: temp file in the target's folder, fsync, rename; nothing half-done."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from starling_tui import atomic
from starling_tui.errors import UserError


def test_writes_text_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.md"
    assert atomic.write_text(target, "héllo\n") == target
    assert target.read_bytes() == "héllo\n".encode()
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.md"]
    assert target.stat().st_mode & 0o777 == atomic.NEW_FILE_MODE


def test_existing_permissions_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    target.write_text("old")
    target.chmod(0o640)
    atomic.write_text(target, "new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o640


def test_temp_file_is_fsynced_in_the_target_folder_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append(("replace", str(src)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "out.json"
    atomic.write_text(target, "{}")
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "replace", "fsync"]  # the data, the rename, the folder
    temp = Path(events[1][1])
    assert temp.parent == tmp_path and Path(events[0][1]) == temp
    assert Path(events[2][1]) == tmp_path


def test_failure_keeps_the_old_file_and_removes_the_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.md"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic.atomic_writer(target) as handle:
        handle.write("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.md"]


def test_a_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    with pytest.raises(UserError, match="is a folder; give a file name"):
        atomic.write_text(folder, "x")
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        "exports"
    ]


def test_replace_durably_moves_a_finished_temp_file(tmp_path: Path) -> None:
    temp, target = tmp_path / ".m.gguf.partial", tmp_path / "m.gguf"
    temp.write_bytes(b"GGUF")
    atomic.replace_durably(temp, target)
    assert target.read_bytes() == b"GGUF" and not temp.exists()


def test_bytes_and_temp_paths_for_other_writers(tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    assert atomic.write_bytes(target, b"GGUF") == target and target.read_bytes() == b"GGUF"
    temp = atomic.temp_path(target)
    assert temp.parent == tmp_path and temp.name.startswith(".model.gguf.")
    assert temp.name.endswith(".partial") and temp != atomic.temp_path(target)
    temp.write_bytes(b"GGUF v2")  # e.g. written by a library or a child process
    atomic.replace_durably(temp, target)
    assert target.read_bytes() == b"GGUF v2" and not temp.exists()
