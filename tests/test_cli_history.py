"""``history list | show | search | export | rename | delete`` through ``main()``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from starling_tui.cli.main import main
from starling_tui.history import HistoryStore
from starling_tui.types import Attachment

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def conv_ids() -> list[str]:
    """Two saved conversations; the second one has an edited branch and a cancelled reply."""
    with HistoryStore() as store:
        first = store.create_conversation(model="smol")
        store.add_message(first.id, "user", "Tell me about penguins")
        store.add_message(first.id, "assistant", "Penguins are flightless birds.")
        second = store.create_conversation(system_prompt="Be terse.")
        question = store.add_message(second.id, "user", "What is a zebra?")
        store.add_message(second.id, "assistant", "A striped horse.")
        okapi = store.edit_message(question.id, "What is an okapi?")
        writer = store.start_reply(second.id, parent_id=okapi.id)
        writer.update("A forest giraffe")
        writer.finish("cancelled")
    return [first.id, second.id]


def history(capsys: Capture, *args: str) -> tuple[int, str, str]:
    status = main(["history", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_list(conv_ids: list[str], capsys: Capture) -> None:
    status, out, _ = history(capsys, "list")
    lines = out.splitlines()
    assert status == 0 and len(lines) == 2
    assert lines[0].startswith(conv_ids[1]) and lines[0].endswith("What is a zebra?")
    assert "4 msgs" in lines[0] and lines[1].endswith("Tell me about penguins")
    status, out, _ = history(capsys, "list", "--json", "--limit", "1")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [conv_ids[1]]


def test_show_prints_the_active_branch(conv_ids: list[str], capsys: Capture) -> None:
    status, out, _ = history(capsys, "show", conv_ids[1][:5])
    assert status == 0
    assert "[system]\nBe terse." in out
    assert "What is an okapi?" in out and "[assistant] (cancelled)\nA forest giraffe" in out
    assert "zebra?" not in out.split("\n", 1)[1]  # the other branch is not shown


def test_search(conv_ids: list[str], capsys: Capture) -> None:
    status, out, _ = history(capsys, "search", "flightless", "birds")
    assert status == 0 and out.startswith(f"{conv_ids[0]}  [assistant]  Tell me about penguins")
    assert "[flightless] [birds]" in out
    status, out, _ = history(capsys, "search", "okapi")
    assert status == 0 and conv_ids[1] in out

def test_search_without_hits_says_so_and_exits_1_like_grep(
    conv_ids: list[str], capsys: Capture
) -> None:
    assert history(capsys, "search", "kangaroo", "pouch") == (
        1,
        "",
        "no matches for 'kangaroo pouch'\n",
    )


def test_export_markdown_and_json(conv_ids: list[str], capsys: Capture, tmp_path: Path) -> None:
    status, out, _ = history(capsys, "export", conv_ids[0])
    assert status == 0 and out.startswith("# Tell me about penguins\n")
    assert "## Assistant\n\nPenguins are flightless birds." in out
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "chat.json"
    status, out, err = history(capsys, "export", conv_ids[1], "--format", "json", "-o", str(target))
    assert status == 0 and out == "" and str(target) in err
    document = json.loads(target.read_text())
    assert [m["content"] for m in document["messages"]] == ["What is an okapi?", "A forest giraffe"]
    assert document["messages"][1]["finish_reason"] == "cancelled"
    assert sorted(p.name for p in target.parent.iterdir()) == ["chat.json"]


def test_rename_and_delete(conv_ids: list[str], capsys: Capture) -> None:
    status, out, _ = history(capsys, "rename", conv_ids[0], "Birds")
    assert status == 0 and out.strip() == f"{conv_ids[0]}  Birds"
    status, _, err = history(capsys, "delete", conv_ids[0])
    assert status == 0 and err.startswith(f"deleted {conv_ids[0]}")
    with HistoryStore() as store:
        assert [c.id for c in store.list_conversations()] == [conv_ids[1]]
        assert store.search("penguins") == []


def test_unknown_id_is_one_line(conv_ids: list[str], capsys: Capture) -> None:
    for action in (
        ["show", "zzzz"],
        ["export", "zzzz"],
        ["rename", "zzzz", "x"],
        ["delete", "zzzz"],
    ):
        status, out, err = history(capsys, *action)
        assert (status, out) == (1, "") and err == (
            "starling-tui: error: no conversation 'zzzz' (see 'starling-tui history list')\n"
        )
    with HistoryStore() as store:
        assert len(store.list_conversations()) == 2


def test_non_utf8_title_and_query_are_one_line(conv_ids: list[str], capsys: Capture) -> None:
    status, out, err = history(capsys, "rename", conv_ids[0], "\udcff")
    assert (status, out) == (1, "")
    assert err == (
        "starling-tui: error: the title is not valid UTF-8 text (byte 0xff at character 0)\n"
    )
    status, out, err = history(capsys, "search", "ok\udcffapi")
    assert (status, out) == (1, "") and err.startswith("starling-tui: error: the query is not")
    with HistoryStore() as store:
        assert store.get_conversation(conv_ids[0]).title == "Tell me about penguins"


def test_export_to_a_folder_is_refused_clearly(
    conv_ids: list[str], capsys: Capture, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    for output in (str(folder), str(tmp_path / "missing") + "/"):
        status, out, err = history(capsys, "export", conv_ids[0], "-o", output)
        assert (status, out) == (1, "")
        assert err == (
            f"starling-tui: error: {output.rstrip('/')} is a folder; give a file name, "
            f"e.g. {Path(output) / (conv_ids[0] + '.md')}\n"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exports"]
    assert list(folder.iterdir()) == []


def test_search_and_show_include_attached_files(capsys: Capture) -> None:
    with HistoryStore() as store:
        conv = store.create_conversation()
        store.add_message(conv.id, "user", "Review this",
                          attachments=[Attachment("sort.py", "def quicksort(items): ...\n")])
    status, out, _ = history(capsys, "search", "quicksort")
    assert status == 0
    assert out == f"{conv.id}  [user]  Review this: (file sort.py) def [quicksort](items): ...\n"
    status, out, _ = history(capsys, "show", conv.id)
    assert "Review this\n--- file: sort.py (26 bytes) ---\ndef quicksort(items): ...\n" in out
