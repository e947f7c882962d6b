"""Paths for attaching: completion in a folder and pasted (dropped) paths, taken as given."""

from __future__ import annotations

from pathlib import Path

from starling_tui.ui.file_paths import Entry, completion, entries, pasted_file


def make_folder(root: Path) -> Path:
    (root / "notes.md").write_text("n")
    (root / "notebook.txt").write_text("n")
    (root / "my file.txt").write_text("n")
    (root / ".hidden").write_text("h")
    (root / "sub").mkdir()
    (root / "sub" / "calc.py").write_text("c")
    return root


def test_entries_list_folders_first_and_hide_dot_files_until_a_dot_is_typed(
    tmp_path: Path,
) -> None:
    root = make_folder(tmp_path)
    assert [e.shown for e in entries("", root)] == ["sub/", "my file.txt", "notebook.txt",
                                                    "notes.md"]
    assert [e.shown for e in entries(".", root)] == [".hidden"]
    assert [e.shown for e in entries("sub/", root)] == ["calc.py"]
    assert entries("missing/", root) == []


def test_completion_goes_as_far_as_the_names_agree(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    assert completion("no", entries("no", root)) == "note"
    assert completion("su", entries("su", root)) == "sub/"  # one folder: opened
    assert completion("sub/c", entries("sub/c", root)) == "sub/calc.py"
    assert completion("x", [Entry("x1", False), Entry("x2", False)]) == "x"


def test_a_pasted_path_names_a_file_as_terminals_paste_dropped_files(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    spaced = root / "my file.txt"
    assert pasted_file(str(root / "notes.md"), root) == root / "notes.md"
    assert pasted_file("notes.md", root) == root / "notes.md"  # from the working folder
    assert pasted_file(f"'{spaced}'", root) == spaced
    assert pasted_file(str(spaced).replace(" ", "\\ "), root) == spaced
    assert pasted_file(f"file://{str(spaced).replace(' ', '%20')}", root) == spaced
    assert pasted_file("sub", root) is None  # a folder is no file to attach
    assert pasted_file("notes.md\nmore text", root) is None  # more than one line: text
    assert pasted_file("no such file", root) is None
    assert pasted_file("*.md", root) is None  # never globbed
