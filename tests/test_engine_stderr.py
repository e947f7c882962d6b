"""The engine starts inside an app that replaced ``sys.stderr`` (Textual: ``fileno()`` is -1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# A fresh interpreter: the resource tracker must not be running already.
SCRIPT = """
import sys
from starling_tui.engine.base import EngineOptions
from starling_tui.engine.parent.process import ProcessEngine


class NoFileno:
    def write(self, text):
        return len(text)

    def flush(self):
        pass

    def fileno(self):
        return -1


sys.stderr = NoFileno()
try:
    engine = ProcessEngine()
    info = engine.load(EngineOptions(model_path=sys.argv[1], n_ctx=256, n_threads=2))
except Exception as exc:  # stderr is gone: say why on stdout
    print(type(exc).__name__, exc)
    raise SystemExit(1) from None
print(info.n_layers)
engine.close()
"""


def test_load_while_stderr_has_no_descriptor(smollm2_gguf: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(smollm2_gguf)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip() == "30"
