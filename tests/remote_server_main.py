"""Runs llama-cpp-python's OpenAI-compatible server for the remote-engine tests (AMX-safe).

Usage: ``python tests/remote_server_main.py --model PATH --port N …`` (the server's own flags).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from amx_safe_llama import patch_default_params

if __name__ == "__main__":
    patch_default_params()
    sys.argv[0] = "llama_cpp.server"
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
