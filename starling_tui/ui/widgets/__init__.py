"""Reusable widgets of the chat app, one per module, each carrying its ``DEFAULT_CSS``."""
