"""Nothing is left behind: low disk, failed verification and Ctrl-C while quantizing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from model_fixtures import leftovers
from starling_convert.api import convert_checkpoint
from starling_convert.errors import ConvertError
from starling_convert.hooks import ConvertHooks


def free(n: int) -> ConvertHooks:
    """Hooks whose disk probe reports ``n`` free bytes."""
    return ConvertHooks(free_space=lambda folder: n)


def test_low_disk_probe_passed_in(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ConvertError, match="not enough free disk space"):
        convert_checkpoint(tiny_checkpoint, "f32", tmp_path / "m.gguf", quiet=True,
                           hooks=free(10_000_000))
    assert leftovers(tmp_path) == []


def test_quantized_output_needs_room_for_the_intermediate(tiny_checkpoint: Path,
                                                          tmp_path: Path) -> None:
    # the q4_k_m file is ~13 MB, but the bf16 intermediate needs ~36 MB on top of it
    with pytest.raises(ConvertError, match="not enough free disk space"):
        convert_checkpoint(tiny_checkpoint, "q4_k_m", tmp_path / "m.gguf", quiet=True,
                           hooks=free(100_000_000))
    # the same conversion to f16 alone (~36 MB + the margin) fits
    assert convert_checkpoint(tiny_checkpoint, "f16", tmp_path / "m.gguf", quiet=True,
                              hooks=free(120_000_000)).is_file()


def test_failed_verification_leaves_no_file(monkeypatch, tiny_checkpoint: Path,
                                            tmp_path: Path) -> None:
    import starling_convert.verify

    def fail(*args, **kwargs):
        raise ConvertError("verification failed: simulated")

    monkeypatch.setattr(starling_convert.verify, "verify_gguf", fail)
    with pytest.raises(ConvertError, match="simulated"):
        convert_checkpoint(tiny_checkpoint, "q4_0", tmp_path / "m.gguf", quiet=True)
    assert leftovers(tmp_path) == []




def test_interrupt_during_quantization_kills_the_quantizer(monkeypatch, tiny_checkpoint: Path,
                                                           tmp_path: Path) -> None:
    import starling_convert.quantize

    started = []

    class InterruptedPopen(subprocess.Popen):
        def wait(self, timeout=None):
            if timeout is None:  # the converter reaping the child it killed
                return super().wait()
            started.append(self)
            raise KeyboardInterrupt  # as if Ctrl-C arrived while llama.cpp quantizes

    monkeypatch.setattr(starling_convert.quantize.subprocess, "Popen", InterruptedPopen)
    with pytest.raises(KeyboardInterrupt):
        convert_checkpoint(tiny_checkpoint, "q4_0", tmp_path / "m.gguf", quiet=True)
    assert len(started) == 1 and started[0].returncode is not None  # killed and reaped
    assert leftovers(tmp_path) == []
