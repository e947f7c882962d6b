"""Shared helpers of the ``starling-tui pull`` end-to-end tests: the CLI runner and checks.

Each run is a subprocess with ``HF_ENDPOINT`` pointing at the fake Hub and its own ``HF_HOME``
(huggingface_hub reads both when it is imported). ``HF_HUB_DISABLE_TELEMETRY`` and
``HF_HUB_DISABLE_XET`` are *not* set, so the tests also show that pull makes no other request
and that hf_xet (installed) stays out of the way when the server does not advertise Xet.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fake_hub import FakeHub

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPO = "ManniX-ITA/Starling-LM-7B-beta-LaserRMT-v1"
MODEL_NAME = "Starling-LM-7B-beta-LaserRMT-v1-Q4_K_M"
SHARD = "model-00001-of-00003.safetensors"
SHARD_SIZE = 16_385_160
# huggingface_hub's http_get writes what it receives in 10 MiB chunks, so a download cut at
# 12 MB has 10 MiB on disk, and resumes from there.
CUT = 12_000_000
ON_DISK = 10 * 1024 * 1024
ALLOWED_PATH = re.compile(
    r"^/(api/models/[^/]+/[^/]+/revision/[^/]+|[^/]+/[^/]+/resolve/.+|cdn/[^/]+/[^/]+/\w+)$")


def starling(*args: str, hub: FakeHub, hf_home: Path, offline: bool = False,
             env: dict[str, str] | None = None, timeout: float = 300, free_disk: int = 0,
             ) -> subprocess.CompletedProcess[str]:
    """Run the real CLI (``python -m starling_tui.cli.main``) against the fake Hub.

    ``free_disk`` > 0 makes every disk report that many free bytes.
    """
    full = {k: v for k, v in os.environ.items()
            if not k.startswith("HF_") and k != "TRANSFORMERS_OFFLINE"}
    full.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(hf_home), **(env or {}))
    if offline:
        full["HF_HUB_OFFLINE"] = "1"
    command = [sys.executable, "-m", "starling_tui.cli.main", *args]
    if free_disk:
        command[1:3] = ["-c", (
            "import shutil, sys; from starling_tui.cli.main import main; "
            f"shutil.disk_usage = lambda p: shutil._ntuple_diskusage(10**15, 10**15, {free_disk}); "
            "sys.exit(main())")]
    return subprocess.run(command, cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=timeout)


def models_dir(home: Path) -> Path:
    return home / "data" / "models"


def blobs(hf_home: Path, repo: str) -> Path:
    return hf_home / "hub" / f"models--{repo.replace('/', '--')}" / "blobs"


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("starling-tui: error: ")
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def assert_no_model_files(home: Path) -> None:
    folder = models_dir(home)
    assert not folder.exists() or not list(folder.iterdir()), list(folder.iterdir())


def default_model(home: Path) -> str | None:
    import tomllib

    config = home / "config" / "config.toml"
    return tomllib.loads(config.read_text())["model"] if config.exists() else None
