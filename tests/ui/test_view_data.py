"""Unit tests of what the chat screen's workers read for the widgets (no Textual app)."""

from __future__ import annotations

from starling_tui.history.store import HistoryStore
from starling_tui.ui import view_data as data


def test_load_page_walks_the_active_branch_with_sibling_positions(store: HistoryStore) -> None:
    conv = store.create_conversation()
    first = store.add_message(conv.id, "user", "q0")
    for i in range(1, 75):
        store.add_message(conv.id, "assistant" if i % 2 else "user", f"m{i}")
    entries, more = data.load_page(store, conv.id, page_size=30)
    assert more and [e.content for e in entries] == [f"m{i}" for i in range(45, 75)]
    older, more = data.load_page(store, conv.id, entries[0].id, page_size=30)
    assert more and [e.content for e in older] == [f"m{i}" for i in range(15, 45)]
    oldest, more = data.load_page(store, conv.id, older[0].id, page_size=30)
    assert not more and oldest[0].id == first.id and len(oldest) == 15
    edited = store.edit_message(first.id, "q0 edited")
    entries, _ = data.load_page(store, conv.id)
    assert entries == [data.entry_for(store, edited)] and entries[0].branch == (2, 2)


def test_sidebar_rows_list_and_search(store: HistoryStore) -> None:
    a = store.create_conversation()
    store.add_message(a.id, "user", "talk about penguins")
    b = store.create_conversation()
    store.add_message(b.id, "user", "talk about volcanoes")
    assert [r.id for r in data.sidebar_rows(store)] == [b.id, a.id]
    assert [r.title for r in data.sidebar_rows(store)] == ["talk about volcanoes",
                                                           "talk about penguins"]
    hits = data.sidebar_rows(store, "penguins")
    assert [r.id for r in hits] == [a.id] and "[penguins]" in hits[0].detail


def test_view_start_skips_the_dropped_turns_and_empty_replies(store: HistoryStore) -> None:
    conv = store.create_conversation(system_prompt="sys")
    q1 = store.add_message(conv.id, "user", "q1")
    store.add_message(conv.id, "assistant", "", finish_reason="error")  # never sent again
    q2 = store.add_message(conv.id, "user", "q2")
    a2 = store.add_message(conv.id, "assistant", "a2")
    q3 = store.add_message(conv.id, "user", "q3")
    path = store.path_to(q3.id)
    assert data.first_seen_id(path, 0) is None
    assert data.first_seen_id(path, 1) == q2.id  # q1 left out; the empty reply never counted
    assert data.first_seen_id(path, 2) == a2.id
    assert data.first_seen_id(path, 9) is None
    writer = store.start_reply(conv.id, parent_id=q3.id)
    writer.append("a3")
    reply = writer.finish("stop", {"dropped_messages": 1})
    assert data.view_start(store, reply) == (q2.id, 1)
    assert data.last_reply(store, conv.id) is not None
    assert data.view_start(store, store.get_message(a2.id)) == (None, 0)
    assert q1.id < q2.id


def test_context_in_use_from_the_last_reply(store: HistoryStore) -> None:
    conv = store.create_conversation()
    question = store.add_message(conv.id, "user", "q")
    assert data.context_in_use(data.last_reply(store, conv.id)) == 0
    reply = store.start_reply(conv.id, parent_id=question.id)
    reply.finish("stop", {"prompt_tokens": 30, "completion_tokens": 12})
    assert data.context_in_use(data.last_reply(store, conv.id)) == 42
