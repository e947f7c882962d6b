"""llama.cpp quantization (``llama_model_quantize``) run in a child process.

A child process keeps a llama.cpp abort from killing the converter before it can clean up,
and lets Ctrl-C stop a quantization that is deep inside C code (the child is killed). The
child is ``python -m starling_convert.quantize SRC DST FTYPE`` rather than multiprocessing,
which would re-import the caller's ``__main__``. With an importance matrix (``--imatrix``) the
child reads the imatrix GGUF, hands llama.cpp the per-column means through
``llama_model_imatrix_data`` (as ``llama-quantize --imatrix`` does), records the
``quantize.imatrix.*`` keys in the output, and prints how many entries llama.cpp said it has
(its own log line), which the parent returns.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import ConvertError


def quantize_file(source: Path, target: Path, llama_ftype: str,
                  on_progress: Callable[[int], None] | None = None,
                  imatrix: Path | None = None) -> int | None:
    """Quantize GGUF ``source`` into ``target`` with the LLAMA_FTYPE_* named ``llama_ftype``.

    llama.cpp reports no progress, so ``on_progress`` is called about twice a second with the
    size ``target`` has reached (it grows tensor by tensor). ``imatrix`` is an imatrix GGUF;
    the return value is the number of importance-matrix entries llama.cpp reported using
    (None without one).
    """
    command = [sys.executable, "-m", "starling_convert.quantize", str(source), str(target),
               llama_ftype]
    command += [str(imatrix)] if imatrix is not None else []
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryFile() as output:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output,
                                 stderr=errors)
        try:
            _wait(child, target, on_progress)
        except BaseException:
            child.kill()
            child.wait()
            raise
        errors.seek(0)
        lines = errors.read().decode(errors="replace").strip().splitlines()
        output.seek(0)
        said = output.read().decode(errors="replace").split()
    if child.returncode != 0:
        why = f": {lines[-1]}" if lines else f" (exit status {child.returncode})"
        raise ConvertError(f"llama.cpp failed to quantize to "
                           f"{llama_ftype.removeprefix('LLAMA_FTYPE_MOSTLY_')}{why}")
    return int(said[-1]) if imatrix is not None and said and said[-1].isdigit() else None


def _wait(child: subprocess.Popen[bytes], target: Path,
          on_progress: Callable[[int], None] | None) -> None:
    while True:
        try:
            child.wait(timeout=0.5)
            return
        except subprocess.TimeoutExpired:
            if on_progress is not None:
                with contextlib.suppress(OSError):
                    on_progress(target.stat().st_size)


def _main(argv: list[str]) -> int:
    # The parent handles Ctrl-C (and kills this process); never die half-way on our own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    source, target, llama_ftype, *imatrix = argv
    from starling_tui.llama.backend import llama, recent_errors

    lc = llama()  # imports llama_cpp with native logging silenced
    params = lc.llama_model_quantize_default_params()
    params.ftype = getattr(lc, llama_ftype)
    params.nthread = os.cpu_count() or 1
    keep_alive = None
    if imatrix:
        from .imatrix_params import attach_imatrix, imatrix_entries_logged

        keep_alive = attach_imatrix(params, Path(imatrix[0]))
    status = lc.llama_model_quantize(source.encode(), target.encode(), params)
    if status != 0:
        errors = recent_errors()
        print(errors[-1] if errors else f"llama_model_quantize returned {status}",
              file=sys.stderr)
        return 1
    if keep_alive is not None:
        print(f"imatrix entries used: {imatrix_entries_logged()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
