"""Keeping Python's garbage-collector pauses off key presses while replies stream.

Why: a full collection walks every object the collector tracks. In the app those are Textual's
modules, classes and styles (~75,000 objects once started) plus the widgets of every mounted
message (a 2,000-token Markdown reply is ~900 widgets, ~90,000 objects). Measured with
``benchmarks/ui_bench.py`` on the 2-core box, each streamed reply triggered three or more full
collections of 200–400 ms in a fresh chat and up to 1–2 s with seven long replies mounted
(the key presses that landed in one waited that long: the p99 tail), and collecting took
about 40 % of the stream's time.

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

# CPython's default is 700 allocations. With the settles above, 10,000 cut the collector's
# time per streamed reply from 56-91 ms to 29-38 ms (ui_bench, alternated runs); the longest
# young collection seen was 70 ms, in a chat holding seven long replies.
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
