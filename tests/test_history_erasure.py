"""What is deleted is gone: no text of a deleted conversation or branch in the database file,
its log, the search index, the migration backups or the saved KV states; the user's files are
private (folders 0700, files 0600)."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli_support import conversation_id, run_cli
from test_history_db import make_v1_database

from starling_tui import atomic
from starling_tui.history import HistoryStore
from starling_tui.llama.kv_state import list_states, state_path, write_state
from starling_tui.paths import app_paths

SECRET = "My secret passphrase is Zebraquantum Marmalade 7741"
# The search index keeps words lowercased, one by one: look for each as well as the phrase.
NEEDLES = (SECRET.encode(), b"zebraquantum", b"marmalade", b"Zebraquantum", b"Marmalade")


def leaks(folder: Path) -> dict[str, list[bytes]]:
    """Every file under ``folder`` holding one of the needles, with the needles it holds."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits = [n for n in NEEDLES if n in data]
        if hits:
            found[str(path.relative_to(folder))] = hits
    return found


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore(tmp_path / "history.db", save_interval_s=0.0) as opened:
        yield opened


def chat(store: HistoryStore, question: str, answer: str) -> str:
    """A conversation of one exchange, the reply streamed and saved in pieces."""
    conv = store.create_conversation()
    user = store.add_message(conv.id, "user", question)
    writer = store.start_reply(conv.id, parent_id=user.id)
    for word in answer.split(" "):
        writer.append(word + " ")
    writer.finish("stop")
    return conv.id


def test_a_deleted_conversation_leaves_no_text_in_the_file_log_or_index(
    store: HistoryStore, tmp_path: Path
) -> None:
    kept = chat(store, "What do penguins eat?", "Mostly fish and krill.")
    gone = chat(store, SECRET, f"I will remember: {SECRET.lower()}")
    for _ in range(30):  # more index segments, and pages freed and reused
        chat(store, "filler question", "filler answer " * 50)
    assert leaks(tmp_path)  # the phrase is there (file or log) before the delete
    store.delete_conversation(gone)
    # Looked at while the connection is still open: closing would checkpoint anyway.
    assert leaks(tmp_path) == {}
    assert store.search("zebraquantum") == []
    assert [h.conversation_id for h in store.search("krill")] == [kept]
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")


def test_deleting_a_branch_removes_its_text_and_shows_the_branch_left(
    store: HistoryStore, tmp_path: Path
) -> None:
    forgotten: list[str] = []
    store._on_delete = forgotten.append
    conv = store.create_conversation()
    question = store.add_message(conv.id, "user", "Tell me a word")
    kept = store.add_message(conv.id, "assistant", "Banana")
    regenerated = store.add_message(conv.id, "assistant", SECRET, parent_id=question.id)
    store.add_message(conv.id, "user", "Spell Marmalade backwards")
    assert store.delete_branch(regenerated.id) == store.get_message(kept.id)
    assert [m.content for m in store.active_path(conv.id)] == ["Tell me a word", "Banana"]
    assert store.get_conversation(conv.id).message_count == 2
    assert leaks(tmp_path) == {} and forgotten == [conv.id]


def test_deleting_the_first_message_remakes_the_title_from_what_is_left(
    store: HistoryStore, tmp_path: Path
) -> None:
    conv = store.create_conversation()
    first = store.add_message(conv.id, "user", SECRET)
    store.add_message(conv.id, "assistant", "Noted.")
    other = store.edit_message(first.id, "Something harmless")
    assert store.get_conversation(conv.id).title == SECRET
    assert store.delete_branch(first.id) == other
    assert store.get_conversation(conv.id).title == "Something harmless"
    assert store.delete_branch(other.id) is None
    assert store.active_path(conv.id) == [] and store.get_conversation(conv.id).title == ""
    assert leaks(tmp_path) == {}


def test_the_conversation_goes_from_migration_backups_too(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    make_v1_database(path)  # "an ancient zebra question" in conversation abc12345
    with HistoryStore(path) as store:
        (backup,) = tmp_path.glob("history.db.v1-*.bak")
        assert b"ancient zebra" in backup.read_bytes()
        other = store.create_conversation()
        store.add_message(other.id, "user", "a newer question")
        store.delete_conversation("abc12345")
    assert [p for p in tmp_path.iterdir() if b"zebra" in p.read_bytes()] == []
    conn = sqlite3.connect(backup)
    assert conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == 0
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_on_delete_hears_of_every_deleted_conversation(tmp_path: Path) -> None:
    forgotten: list[str] = []
    with HistoryStore(tmp_path / "history.db", on_delete=forgotten.append) as store:
        conv = store.create_conversation()
        store.add_message(conv.id, "user", "hello")
        store.delete_conversation(conv.id[:4])
    assert forgotten == [conv.id]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_history_file_and_its_folders_are_private(tmp_path: Path) -> None:
    path = tmp_path / "home" / "data" / "history.db"
    with HistoryStore(path) as store:
        store.add_message(store.create_conversation().id, "user", "hello")
        files = [path, path.with_name("history.db-wal"), path.with_name("history.db-shm")]
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert mode(path.parent) == mode(path.parent.parent) == 0o700
    path.chmod(0o644)  # as an older version left it
    with HistoryStore(path):
        assert mode(path) == 0o600


def test_atomic_writes_make_private_files_and_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.md"
    atomic.write_text(target, "text")
    assert mode(target) == 0o600
    assert mode(target.parent) == mode(target.parent.parent) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    assert atomic.make_private_dirs(shared / "own") == shared / "own"
    assert (mode(shared), mode(shared / "own")) == (0o755, 0o700)  # existing folders are kept


def plant_state(conversation: str, text: str) -> Path:
    """A saved KV state of ``conversation`` as the engine worker writes one."""
    path = state_path(app_paths().state_cache_dir, conversation, {"model": "fake"})
    write_state(path, {"conversation_id": conversation}, [1, 2, 3], text.encode())
    return path


def test_history_delete_in_the_cli_leaves_nothing_of_the_conversation(
    smollm2_gguf: Path, isolated_home: Path
) -> None:
    model = ("--model", str(smollm2_gguf))
    asked = run_cli("ask", *model, SECRET, fake={"replies": [f"Noted: {SECRET}"]})
    assert asked.returncode == 0, asked.stderr
    secret_id = conversation_id(asked.stderr)
    other = run_cli("ask", *model, "What do penguins eat?", fake={"replies": ["Fish."]})
    other_id = conversation_id(other.stderr)
    plant_state(secret_id, SECRET)
    kept_state = plant_state(other_id, "penguins eat fish")
    assert leaks(isolated_home)

    deleted = run_cli("history", "delete", secret_id[:5])
    assert deleted.returncode == 0, deleted.stderr

    assert leaks(isolated_home) == {}
    assert [h.path for h in list_states(app_paths().state_cache_dir)] == [kept_state]
    shown = run_cli("history", "show", other_id)
    assert shown.returncode == 0 and "Fish." in shown.stdout
    for path in isolated_home.rglob("*"):
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path


def test_text_deleted_before_secure_deletes_is_rewritten_away_on_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    make_v1_database(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA secure_delete = OFF")  # as SQLite builds without it left files
    conn.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at)"
        " VALUES ('gone0001', 'x', 1, 1)"
    )
    conn.execute(
        "INSERT INTO messages (conversation_id, role, content, created_at, updated_at)"
        " VALUES ('gone0001', 'user', ?, 1, 1)",
        (SECRET * 50,),
    )
    conn.execute("DELETE FROM messages WHERE conversation_id = 'gone0001'")
    conn.execute("DELETE FROM conversations WHERE id = 'gone0001'")
    conn.close()
    assert SECRET.encode() in path.read_bytes()
    with HistoryStore(path) as store:
        assert [m.content for m in store.active_path("abc12345")] == ["an ancient zebra question"]
        assert leaks(tmp_path) == {}
