"""``cache clear --conversation`` takes an id or unique prefix as ``history`` does, and an
unknown one is an error; ``history export -o`` never creates folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from starling_tui.cli.main import main
from starling_tui.history import HistoryStore
from starling_tui.llama.kv_state import list_states, state_path, write_state
from starling_tui.paths import app_paths

Capture = pytest.CaptureFixture[str]


def plant_state(conversation: str) -> Path:
    """A saved KV state of ``conversation`` as the engine worker writes one."""
    path = state_path(app_paths().state_cache_dir, conversation, {"model": "fake"})
    write_state(path, {"conversation_id": conversation}, [1, 2, 3], b"kv")
    return path


def saved() -> list[Path]:
    return [h.path for h in list_states(app_paths().state_cache_dir)]


def run(capsys: Capture, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def conversations() -> list[str]:
    with HistoryStore() as store:
        return [store.create_conversation().id for _ in range(2)]


def test_clear_takes_a_unique_prefix(conversations: list[str], capsys: Capture) -> None:
    first, second = conversations
    plant_state(first)
    kept = plant_state(second)
    status, out, _ = run(capsys, "cache", "clear", "--conversation", first[:3])
    assert (status, out) == (0, f"cleared 1 saved states (conversation {first})\n")
    assert saved() == [kept]


def test_an_unknown_conversation_is_one_line_and_exit_1(
    conversations: list[str], capsys: Capture
) -> None:
    kept = plant_state(conversations[0])
    status, out, err = run(capsys, "cache", "clear", "--conversation", "zzzz")
    assert (status, out) == (1, "")
    assert err == "starling-tui: error: no conversation 'zzzz' (see 'starling-tui history list')\n"
    assert saved() == [kept]


def test_a_state_left_by_a_deleted_conversation_is_cleared_by_its_full_id(
    capsys: Capture,
) -> None:
    plant_state("0ld5tate")
    status, out, _ = run(capsys, "cache", "clear", "--conversation", "0ld5tate")
    assert (status, out, saved()) == (0, "cleared 1 saved states (conversation 0ld5tate)\n", [])


def test_export_into_a_missing_folder_is_refused(
    conversations: list[str], capsys: Capture, tmp_path: Path
) -> None:
    target = tmp_path / "nonexistent" / "dir" / "x.md"
    status, out, err = run(capsys, "history", "export", conversations[0], "-o", str(target))
    assert (status, out) == (1, "")
    assert err == (
        f"starling-tui: error: cannot write {target}: there is no folder {target.parent}\n"
    )
    assert list(tmp_path.iterdir()) == []
