"""Unit tests of the UI's history helpers and form parsing (no Textual app)."""

from __future__ import annotations

from pathlib import Path

import pytest

from starling_tui.engine.base import ChatMessage, SamplingOptions
from starling_tui.history.store import HistoryStore
from starling_tui.ui import conversation_data as data
from starling_tui.ui.form_values import FormError, parse_gpu_layers, parse_sampling


def test_build_request_carries_system_prompt_mode_and_sampling(store: HistoryStore) -> None:
    conv = store.create_conversation(mode="code", system_prompt="Be terse.",
                                     sampling={"temperature": 0.7, "max_tokens": 9})
    store.add_message(conv.id, "user", "hi")
    store.add_message(conv.id, "assistant", "", finish_reason="error")  # failed: left out
    request = data.build_request(store, conv.id, SamplingOptions(top_p=0.5))
    assert request.messages == (ChatMessage("system", "Be terse."), ChatMessage("user", "hi"))
    assert request.mode == "code"
    assert request.sampling == SamplingOptions(temperature=0.7, top_p=0.5, max_tokens=9)
    assert request.conversation_id == conv.id


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


def test_export_markdown_writes_the_active_branch(store: HistoryStore, tmp_path: Path) -> None:
    conv = store.create_conversation(system_prompt="sys")
    store.add_message(conv.id, "user", "Hello?")
    store.add_message(conv.id, "assistant", "Hi!\n\n```py\nx = 1\n```", finish_reason="cancelled")
    path = data.export_markdown(store, conv.id, tmp_path / "out")
    assert path.parent == tmp_path / "out" and path.name == f"hello-{conv.id}.md"
    assert path.read_text() == (
        "# Hello?\n\n**System:**\n\nsys\n\n## You\n\nHello?\n\n"
        "## Assistant _(cancelled)_\n\nHi!\n\n```py\nx = 1\n```\n"
    )
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_form_values() -> None:
    assert parse_sampling({"temperature": "0.5", "top_p": "", "max_tokens": "12"}) == {
        "temperature": 0.5, "max_tokens": 12}
    with pytest.raises(FormError, match=r"Top p: must be between 0\.0 and 1\.0"):
        parse_sampling({"top_p": "3"})
    with pytest.raises(FormError, match="Max tokens: 'x' is not a whole number"):
        parse_sampling({"max_tokens": "x"})
    assert parse_gpu_layers("") == "auto"
    assert parse_gpu_layers("ALL") == "all"
    assert parse_gpu_layers("0") == 0
    with pytest.raises(FormError):
        parse_gpu_layers("-1")
