"""Sampling layering: the app's settings, then what the user changed for one conversation.

The base comes from :class:`~starling_tui.config.Settings` (defaults < config file <
environment < flags). A conversation stores *overrides* only: the values a user set for that
conversation (``ask`` sampling flags, the app's conversation settings form). Everything it
does not override follows the settings as they are when the next reply is sent, so changing the
app's settings screen or the config file still reaches old conversations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from typing import Any

from starling_tui.config import Settings
from starling_tui.types import SamplingOptions

SAMPLING_KEYS: tuple[str, ...] = tuple(f.name for f in fields(SamplingOptions))


def sampling_from_settings(settings: Settings) -> SamplingOptions:
    """The base sampling options of these settings (no conversation overrides)."""
    return SamplingOptions(**{key: getattr(settings, key) for key in SAMPLING_KEYS})


def known_overrides(values: Mapping[str, Any]) -> dict[str, Any]:
    """The sampling keys of ``values`` (anything else a stored row holds is ignored)."""
    return {key: value for key, value in values.items() if key in SAMPLING_KEYS}


def layered(base: SamplingOptions, overrides: Mapping[str, Any]) -> SamplingOptions:
    """``base`` with a conversation's overrides applied."""
    return replace(base, **known_overrides(overrides))


def merged_overrides(
    stored: Mapping[str, Any], changes: Mapping[str, Any], cleared: Iterable[str] = ()
) -> dict[str, Any]:
    """Stored overrides updated with ``changes`` (later wins), minus the ``cleared`` keys.

    A value of ``None`` in ``changes`` is a real value (``max_tokens`` None = no limit), not a
    removal: removing an override is what ``cleared`` is for.
    """
    unknown = set(changes) - set(SAMPLING_KEYS)
    if unknown:
        raise ValueError(f"unknown sampling settings: {sorted(unknown)}")
    result = {**known_overrides(stored), **changes}
    for key in cleared:
        result.pop(key, None)
    return result
