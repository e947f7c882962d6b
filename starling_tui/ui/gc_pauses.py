"""Keeping Python's garbage-collector pauses off key presses while replies stream.

Why: a full collection walks every object the collector tracks. In the app those are Textual's
modules, classes and styles plus the widgets of every mounted message (a long Markdown reply is
hundreds of widgets). Left alone, each streamed reply triggered several full collections, each
long enough that a key press landing in one visibly waited (the p99 tail), growing with every
long reply mounted; collecting took a large share of the stream's time. The figures, with and
without this module, are in ``benchmarks/README.md`` (UI; ``benchmarks/ui_bench.py --ab``).

What, at three moments:

- :func:`start` (after the first frame): a larger young-generation threshold, so objects that
  live for a moment (a block parsed then discarded, a message in flight) die young instead of
  being promoted and forcing full collections; then :func:`settle`.
- :func:`settle` (start-up done, each rendered append of a streaming reply, a finished reply):
  collect once, then ``gc.freeze()`` what survived, so later collections walk only what is
  new since. Done per append, each collection walks a few thousand objects (milliseconds).
- :func:`release` (the log dropped its messages: another conversation, a new chat): frozen
  objects are given back and collected once, so removed widgets are freed, then frozen again.

:func:`stop` (the app exits) gives everything back and restores the threshold.
"""

from __future__ import annotations

import gc

# CPython's default is 700 allocations. With the settles above, a larger threshold lets objects
# that live for a moment die young instead of being promoted into full collections, roughly
# halving the collector's time per streamed reply (ui_bench, alternated runs).
YOUNG_THRESHOLD = 10_000
_default_threshold: tuple[int, int, int] | None = None


def start() -> None:
    """Raise the young generation's threshold, then :func:`settle` what start-up built."""
    global _default_threshold
    if _default_threshold is None:
        _default_threshold = gc.get_threshold()
        gc.set_threshold(YOUNG_THRESHOLD, *_default_threshold[1:])
    settle()


def settle() -> None:
    """Collect the garbage there is now and freeze the survivors: later collections skip them.

    Only between :func:`start` and :func:`stop`: a widget used outside the app (a test, a
    callback that runs after the app exited) leaves the collector alone.
    """
    if _default_threshold is not None:
        gc.collect()
        gc.freeze()


def release() -> None:
    """Unfreeze everything (widgets were removed), collect it once, freeze what is left."""
    if _default_threshold is not None:
        gc.unfreeze()
        settle()


def stop() -> None:
    """Give every frozen object back to the collector and restore the default threshold."""
    global _default_threshold
    gc.unfreeze()
    if _default_threshold is not None:
        gc.set_threshold(*_default_threshold)
        _default_threshold = None
