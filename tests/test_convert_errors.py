"""Every bad input, through the real CLI: one-line error, non-zero exit, no traceback, no file."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from model_fixtures import leftovers, run_convert_cli

from starling_tui.paths import app_paths


@pytest.fixture
def checkpoint_copy(tiny_checkpoint: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny checkpoint (shards hard-linked: replace, never edit, them)."""
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder, copy_function=_link_shards_copy_rest)
    return folder


def _link_shards_copy_rest(src: str, dst: str) -> None:
    if src.endswith(".safetensors"):
        os.link(src, dst)
    else:
        shutil.copy2(src, dst)


def _shards(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))


def _edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


class _Unpickled:
    """Unpickling this would create the marker file: proof the converter never unpickles."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _missing_config(folder: Path) -> None:
    (folder / "config.json").unlink()


def _unsupported_architecture(folder: Path) -> None:
    _edit_json(folder / "config.json", lambda c: c.update(architectures=["GPT2LMHeadModel"]))


def _missing_shard(folder: Path) -> None:
    _shards(folder)[1].unlink()


def _truncated_shard(folder: Path) -> None:
    last = _shards(folder)[-1]
    data = last.read_bytes()
    last.unlink()  # it is a hard link to the session fixture: never write through it
    last.write_bytes(data[: len(data) - 4096])


def _shape_disagrees(folder: Path) -> None:
    _edit_json(folder / "config.json", lambda c: c.update(intermediate_size=1024))


def _no_tokenizer(folder: Path) -> None:
    (folder / "tokenizer.model").unlink()


def _bin_only(folder: Path) -> None:
    for shard in _shards(folder):
        shard.unlink()
    (folder / "model.safetensors.index.json").unlink()
    marker = folder.parent / "UNPICKLED"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Unpickled(marker)))


BAD_INPUTS = {
    "missing config.json": (_missing_config, "no config.json"),
    "unsupported architecture": (_unsupported_architecture,
                                 "unsupported architecture 'GPT2LMHeadModel' (supported: "
                                 "LlamaForCausalLM, MistralForCausalLM)"),
    "shard named in the index missing": (_missing_shard, "named in model.safetensors.index.json"
                                                         " is missing"),
    "truncated safetensors": (_truncated_shard, "is truncated"),
    "shape disagrees with config": (_shape_disagrees, "but config.json implies"),
    "no tokenizer": (_no_tokenizer, "no tokenizer"),
    "pickle .bin only": (_bin_only, "only has pickle weights (pytorch_model.bin)"),
}


def _assert_clean_failure(result, expected: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("starling-convert: error: "), lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_checkpoint_is_refused_cleanly(checkpoint_copy: Path, tmp_path: Path,
                                           case: str) -> None:
    damage, expected = BAD_INPUTS[case]
    damage(checkpoint_copy)
    out = tmp_path / "out"
    out.mkdir()
    result = run_convert_cli(str(checkpoint_copy), "--outtype", "f16",
                             "--outfile", str(out / "model.gguf"))
    _assert_clean_failure(result, expected)
    assert leftovers(out) == []
    assert not (tmp_path / "UNPICKLED").exists()


def test_bad_checkpoint_leaves_nothing_in_default_models_dir(checkpoint_copy: Path) -> None:
    _truncated_shard(checkpoint_copy)
    result = run_convert_cli(str(checkpoint_copy), "--outtype", "q4_k_m")
    _assert_clean_failure(result, "is truncated")
    models = app_paths().models_dir
    assert not models.exists() or leftovers(models) == []


def test_unwritable_output_is_refused(tiny_checkpoint: Path, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    result = run_convert_cli(str(tiny_checkpoint), "--outtype", "f16",
                             "--outfile", str(not_a_folder / "model.gguf"))
    _assert_clean_failure(result, "cannot write to")
    assert leftovers(tmp_path) == ["file.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_output_folder_is_refused(tiny_checkpoint: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run_convert_cli(str(tiny_checkpoint), "--outfile", str(locked / "m.gguf"))
    finally:
        locked.chmod(0o700)
    _assert_clean_failure(result, "cannot write to")
    assert leftovers(locked) == []


def test_too_little_disk_is_refused(tiny_checkpoint: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from starling_convert.cli import main
    from starling_convert.hooks import ConvertHooks

    asked: list[Path] = []

    def one_megabyte(folder: Path) -> int:  # the probe the converter is given
        asked.append(folder)
        return 1_000_000

    argv = [str(tiny_checkpoint), "--outtype", "f16", "--outfile", str(tmp_path / "m.gguf")]
    assert main(argv, ConvertHooks(free_space=one_megabyte)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    need = err[0].split("need ")[-1].split(",")[0]
    assert err == [f"starling-convert: error: not enough free disk space in {tmp_path}: need "
                   f"{need}, 1.0 MB free"]
    assert need.endswith(" MB") and float(need[:-3]) > 67.1  # the plan + a 64 MiB margin
    assert asked == [tmp_path]
    assert leftovers(tmp_path) == []


def test_missing_source_folder_is_refused(tmp_path: Path) -> None:
    result = run_convert_cli(str(tmp_path / "nowhere"), "--outfile", str(tmp_path / "m.gguf"))
    _assert_clean_failure(result, "no such folder")


def test_output_that_is_a_folder_is_refused(tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = run_convert_cli(str(tiny_checkpoint), "--outfile", str(tmp_path))
    _assert_clean_failure(result, "is a folder")
