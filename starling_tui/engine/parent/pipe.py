"""The parent's end of the worker: spawning it, the pipe protocol, and telling a crash apart.

:class:`WorkerPipe` owns one worker process (started on demand with ``multiprocessing`` spawn)
and its duplex pipe; the request/reply protocol is described in :mod:`..worker.main`. It is not
thread-safe on its own: :class:`~starling_tui.engine.parent.process.ProcessEngine`
serialises requests.
When the worker dies (segfault, abort, OOM kill) the pipe closes; :meth:`WorkerPipe.receive`
then raises :class:`EngineCrashed` naming the signal and quoting the worker's last error line
from its stderr log (:mod:`.crash_log`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from starling_tui.engine.crash_log import last_error_line, prepare_log
from starling_tui.errors import EngineCrashed, EngineError

_worker_log = logging.getLogger("starling_tui.engine.worker.main")


def signal_name(exitcode: int | None) -> str:
    """How a process ended, e.g. ``SIGSEGV`` or ``exit status 1``."""
    if exitcode is None:
        return "no exit status"
    if exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit status {exitcode}"


@contextlib.contextmanager
def _unimportable_main_hidden() -> Iterator[None]:
    """Keep spawn from re-running a ``__main__`` that is no file (``python - < script``).

    A spawned child re-imports the parent's main module from its path; when that "path" is
    ``<stdin>`` the child dies before it starts. Programs with a real main file are untouched.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    hide = (
        main is not None
        and getattr(main, "__spec__", None) is None
        and isinstance(path, str)
        and not os.path.isfile(path)
    )
    if hide:
        del main.__file__  # type: ignore[union-attr]
    try:
        yield
    finally:
        if hide:
            main.__file__ = path  # type: ignore[union-attr]


def _real_fd(stream: Any) -> bool:
    try:
        return stream is not None and int(stream.fileno()) >= 0
    except (AttributeError, OSError, ValueError):
        return False


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (idempotent; cheap once it runs).

    spawn starts it lazily and hands it ``sys.stderr.fileno()``; inside a Textual app that is
    -1 ("bad value(s) in fds_to_keep"), so it is started here with a real descriptor: the
    process's original stderr, or none at all.
    """
    from multiprocessing import resource_tracker

    current = sys.stderr
    if _real_fd(current):
        resource_tracker.ensure_running()
        return
    try:
        sys.stderr = sys.__stderr__ if _real_fd(sys.__stderr__) else None
        resource_tracker.ensure_running()
    finally:
        sys.stderr = current


class WorkerPipe:
    """One llama.cpp worker process and its pipe (no process until :meth:`start`)."""

    def __init__(self) -> None:
        import multiprocessing

        self._mp = multiprocessing.get_context("spawn")
        start_resource_tracker()
        # Shared memory read by the worker: the newest reply id to stop (see worker/main.py).
        self.cancel_upto = self._mp.RawValue("q", 0)
        self._proc: Any = None
        self._conn: Connection | None = None
        self._log: Path | None = None  # the worker's stderr

    @property
    def alive(self) -> bool:
        """Whether a worker is running with its pipe open."""
        return self._conn is not None and self._proc is not None and self._proc.is_alive()

    @property
    def pid(self) -> int | None:
        """The worker's process id."""
        return self._proc.pid if self._proc is not None else None

    def start(self, faults: Any = None, session_factory: Any = None) -> None:
        """Start a worker unless one is running.

        ``faults`` (a test's :class:`~..worker.hooks.FaultPlan`) and ``session_factory`` (a
        picklable callable building the worker's session) travel in the spawn arguments.
        """
        if self.alive:
            return
        self.discard()
        from starling_tui.engine.worker.main import serve

        parent, child = self._mp.Pipe(duplex=True)
        self._log = prepare_log()
        log = str(self._log) if self._log is not None else None
        self._proc = self._mp.Process(
            target=serve, args=(child, self.cancel_upto, log, faults, session_factory),
            name="starling-engine", daemon=True
        )
        with _unimportable_main_hidden():
            self._proc.start()
        child.close()
        self._conn = parent

    def send(self, message: tuple[Any, ...], what: str) -> None:
        """Send one request; EngineCrashed if the worker is gone."""
        if self._conn is None:
            raise EngineError("no model is loaded")
        try:
            self._conn.send(message)
        except (BrokenPipeError, OSError) as exc:
            raise self.crashed(what) from exc

    def receive(self, what: str) -> tuple[str, Any]:
        """The worker's next reply (its log records re-logged on the way), or EngineCrashed."""
        conn = self._conn
        if conn is None or self._proc is None:
            raise EngineError("no model is loaded")
        while True:
            wait([conn, self._proc.sentinel])
            try:
                if not conn.poll():
                    break
                reply: tuple[Any, ...] = conn.recv()
            except (EOFError, OSError):
                break
            if reply[0] == "log":
                _worker_log.log(reply[1], "%s", reply[2])
                continue
            return reply[0], reply[1]
        raise self.crashed(what)

    def crashed(self, what: str) -> EngineCrashed:
        """The error for a worker that died while doing ``what`` (the worker is discarded)."""
        proc = self._proc
        if proc is not None:
            proc.join(timeout=5)
        how = signal_name(proc.exitcode if proc is not None else None)
        self.discard()
        detail = last_error_line(self._log)
        where = f": {detail} — see {self._log}" if detail else ""
        return EngineCrashed(
            f"the engine process crashed ({how}) while {what}{where}; "
            "load the model again to continue"
        )

    def discard(self) -> None:
        """Close the pipe and kill the worker if it still runs."""
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(timeout=5)
        self._proc = None
        self._conn = None

    def close(self) -> None:
        """Ask the worker to exit (it finishes a pending state save first), then discard it."""
        if self.alive and self._conn is not None:
            try:
                self._conn.send(("close",))
                self._proc.join(timeout=60)  # a just-saved KV state is still being written
            except (BrokenPipeError, OSError):
                pass
        self.discard()
