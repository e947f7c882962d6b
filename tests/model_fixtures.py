"""Pytest plugin: GGUF files converted from the tiny checkpoint (owned by the converter tests)."""
