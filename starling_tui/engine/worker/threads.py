"""llama.cpp thread counts that follow the CPU other programs leave free.

llama.cpp's CPU threads meet at a barrier after every operation, hundreds of times per token.
When another program keeps one of the cores busy, the thread that shares its core runs only
part of the time and every other thread waits for it at each barrier: on 2 cores with one busy
process, 2 threads decode far slower than 1, and with two busy processes hardly at all. So
unless the user fixed ``n_threads``, the worker measures, over
the time since its last look, how much CPU the *other* processes used on the CPUs it may run
on (``/proc/stat`` per CPU, minus this process's own CPU time), counts the cores they keep busy
(rounded: ``BUSY_ROUNDING``), and uses the free ones: decode threads up to one per physical
core, prompt threads up to one per CPU, never fewer than 1. It looks when a reply's decoding
starts (the window then covers the user's typing and the prompt), every ``RECHECK_S`` while
decoding, and at the reply's end (for the next prompt); :func:`before_prompt` looks before a
prompt. Measured by ``benchmarks/threads_bench.py`` against fixed thread counts; the figures
are in benchmarks/README.md (CPU contention).

Where ``/proc/stat`` cannot be read (not Linux) the counts stay llama.cpp's defaults.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starling_tui.llama.backend import llama

BUSY_ROUNDING = 0.5  # a core counts as busy once other programs use half of it or more
MIN_WINDOW_S = 0.25  # shorter windows are noise (one scheduler tick is 4-10 ms)
RECHECK_S = 0.5  # while decoding


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds used on our CPUs by everything, and by this process, at ``wall``."""

    wall: float
    busy_s: float
    own_s: float


def read_sample(cpus: frozenset[int], stat_path: str = "/proc/stat") -> CpuSample | None:
    """A sample of ``cpus``' busy time (None where ``/proc/stat`` is unreadable)."""
    try:
        with open(stat_path) as stat:
            lines = stat.readlines()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = 0
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or not name[3:].isdigit() or int(name[3:]) not in cpus:
            continue
        # user nice system idle iowait irq softirq steal ...: idle and iowait are not busy
        fields = [int(x) for x in rest.split()[:8]]
        busy += sum(fields) - fields[3] - fields[4]
    times = os.times()
    return CpuSample(time.monotonic(), busy / tick, times.user + times.system)


def free_threads(other_cores: float, cpus: int, limit: int) -> int:
    """Threads to use when other programs keep ``other_cores`` cores busy (1..``limit``)."""
    busy = int(other_cores + BUSY_ROUNDING)
    return max(1, min(limit, cpus - busy))


class ThreadGovernor:
    """Keeps a context's decode and prompt thread counts on the cores left free."""

    def __init__(
        self, threads: int, batch_threads: int, sample: Callable[[], CpuSample | None],
        apply: Callable[[Any, int, int], None] | None = None,
    ) -> None:
        self.max_threads = threads
        self.max_batch_threads = batch_threads
        self._sample = sample
        self._apply = apply or _set_threads
        self.current = (threads, batch_threads)
        self.other_cores = 0.0
        self._last = sample()
        self._next_check = 0.0

    def update(self, ctx: Any) -> tuple[int, int]:
        """Look at the load since the last look (if long enough) and adjust ``ctx``'s counts;
        returns the counts in use."""
        now = self._sample()
        last = self._last
        if now is None or last is None or now.wall - last.wall < MIN_WINDOW_S:
            return self.current
        self._last = now
        self._next_check = now.wall + RECHECK_S
        window = now.wall - last.wall
        other = (now.busy_s - last.busy_s) - (now.own_s - last.own_s)
        self.other_cores = max(other / window, 0.0)
        cpus = self.max_batch_threads
        wanted = (free_threads(self.other_cores, cpus, self.max_threads),
                  free_threads(self.other_cores, cpus, self.max_batch_threads))
        if wanted != self.current:
            self._apply(ctx, *wanted)
            self.current = wanted
        return self.current

    def update_if_due(self, ctx: Any) -> None:
        """:meth:`update` at most every ``RECHECK_S`` (cheap enough to call every few tokens)."""
        if time.monotonic() >= self._next_check:
            self.update(ctx)


def _set_threads(ctx: Any, threads: int, batch_threads: int) -> None:
    llama().llama_set_n_threads(ctx.ctx, threads, batch_threads)


_GOVERNORS: weakref.WeakKeyDictionary[Any, ThreadGovernor] = weakref.WeakKeyDictionary()


def govern(ctx: Any, threads: int, batch_threads: int) -> ThreadGovernor | None:
    """Start following the load for ``ctx`` (a ``LlamaContext``); None off Linux."""
    cpus = frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    if cpus is None or read_sample(cpus) is None:
        return None
    governor = ThreadGovernor(threads, batch_threads, lambda: read_sample(cpus))
    _GOVERNORS[ctx] = governor
    return governor


def governor_for(ctx: Any) -> ThreadGovernor | None:
    """The governor :func:`govern` started for ``ctx``, if any (none: the user fixed threads)."""
    return _GOVERNORS.get(ctx)


def before_prompt(ctx: Any) -> None:
    """Set ``ctx``'s thread counts from the load since the last look, before a prompt is
    evaluated (the window then covers the user's typing); nothing if the user fixed them."""
    governor = governor_for(ctx)
    if governor is not None:
        governor.update(ctx)
