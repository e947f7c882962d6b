"""Running the converter from ``pull``: always as a child process, never imported.

``starling_tui`` does not import ``convert`` (the dependency runs one way: the converter uses the
core). The child inherits stdin/stdout/stderr, so its progress bar and messages show as if it
ran in-process. A failed conversion prints its own one-line reason (``starling-convert:
error: …``) and becomes one :class:`PullError` line of pull's; a crash of llama.cpp's quantizer
ends only the child. ``python`` is the running interpreter (``sys.executable``), so
the converter is the one installed beside this package.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from starling_tui.atomic import make_private_dirs
from starling_tui.pull.errors import PullError
from starling_tui.pull.selection import QuantType

CONVERTER = (sys.executable, "-m", "starling_convert")


def describe_quant(quant: str) -> QuantType:
    """What output type ``quant`` is (``python -m starling_convert.describe``); PullError if
    unknown."""
    result = subprocess.run([sys.executable, "-m", "starling_convert.describe", quant],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PullError(_last_line(result.stderr).replace("--outtype", "--quant")
                        or f"cannot run the converter (exit status {result.returncode})")
    try:
        data = json.loads(result.stdout)
        return QuantType(str(data["name"]), str(data["label"]), bool(data["direct"]),
                         float(data["bits_per_weight"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise PullError(f"the converter described {quant!r} in a form pull cannot read ({exc})") \
            from None


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1].removeprefix("starling-convert: error: ") if lines else ""


def run_converter(folder: Path, quant: str, target: Path, repo: str, progress: bool | None,
                  converter: Sequence[str] = CONVERTER) -> None:
    """Convert the checkpoint in ``folder`` to ``target``; PullError (one line) if it fails.

    ``repo``: the GGUF is named after the repo and records its URL, not the snapshot folder's.
    ``converter``: the command that runs the converter (tests pass a stand-in).
    """
    command = [*converter, str(folder), "--outtype", quant,
               "--outfile", str(target), "--repo-id", repo]
    if progress is False:
        command.append("--no-progress")
    make_private_dirs(target.parent)
    # stderr (messages, the progress bar, an error line) is inherited; stdout would only repeat
    # the output path, which pull reports itself.
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    status = _wait(child)
    if status == 130:
        raise KeyboardInterrupt
    if status != 0:
        why = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        raise PullError(f"converting {repo} failed ({why})")


def _wait(child: subprocess.Popen[bytes]) -> int:
    """The child's exit status; on Ctrl-C, give it time to remove its temp files first."""
    try:
        return child.wait()
    except KeyboardInterrupt:
        try:
            child.wait(timeout=10)  # Ctrl-C reached the whole process group: it is cleaning up
        except subprocess.TimeoutExpired:
            child.terminate()  # only pull was signalled: stop the child the same clean way
            child.wait()
        raise
