"""Unit tests of pull's pieces: file selection, sizes, disk check, cache lookup, install."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fake_hub import FakeHub

from starling_tui.disk import DiskSpaceError, check_free_space, human
from starling_tui.pull.cache import (
    cached_snapshot,
    missing_checkpoint_files,
    offline_checkpoint,
    offline_file,
)
from starling_tui.pull.converter import describe_quant
from starling_tui.pull.errors import PullError
from starling_tui.pull.install import check_gguf, install_file
from starling_tui.pull.selection import (
    QuantType,
    conversion_cost,
    metadata_files,
    model_file_name,
    shard_names,
    weight_files,
)

REPO = "owner/Model"
SHARDS = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]


def write_index(folder: Path, shards: list[str]) -> Path:
    index = folder / "model.safetensors.index.json"
    weight_map = {f"t{i}": name for i, name in enumerate(shards * 2)}
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return index


# -- selection ------------------------------------------------------------------------------------

def test_metadata_files_takes_config_tokenizer_and_index_only() -> None:
    names = ["config.json", "tokenizer.model", "tokenizer_config.json", "README.md",
             "model.safetensors.index.json", *SHARDS, "pytorch_model.bin", "onnx/model.onnx",
             "special_tokens_map.json", ".gitattributes"]
    assert metadata_files(names, REPO) == [
        "config.json", "README.md", "tokenizer.model", "tokenizer_config.json",
        "special_tokens_map.json", "model.safetensors.index.json"]


@pytest.mark.parametrize(("names", "message"), [
    (["config.json", "tokenizer.model", "pytorch_model.bin"], "only has PyTorch pickle weights"),
    (["config.json", "tokenizer.model", "consolidated.pth"], "only has PyTorch pickle weights"),
    (["config.json", "tokenizer.model"], "has no safetensors weights"),
    (["tokenizer.model", "model.safetensors"], "has no config.json"),
    (["config.json", "model.safetensors"], "has no tokenizer"),
])
def test_metadata_files_refuses_unusable_repos(names: list[str], message: str) -> None:
    with pytest.raises(PullError, match=message):
        metadata_files(names, REPO)


def test_weight_files_follow_the_index(tmp_path: Path) -> None:
    index = write_index(tmp_path, SHARDS)
    assert weight_files(index, [*SHARDS, "consolidated.safetensors"], REPO) == SHARDS
    assert weight_files(None, ["model.safetensors"], REPO) == ["model.safetensors"]
    absent = re.escape(f"lists {SHARDS[1]}, which the repo does not have")
    with pytest.raises(PullError, match=absent):
        weight_files(index, SHARDS[:1], REPO)


@pytest.mark.parametrize("bad", ["../../evil.safetensors", "sub/x.safetensors", "x.bin"])
def test_an_index_cannot_name_paths_outside_the_snapshot(tmp_path: Path, bad: str) -> None:
    with pytest.raises(PullError, match="unexpected weight file"):
        shard_names(write_index(tmp_path, [bad]))


def test_an_unreadable_index_is_one_line(tmp_path: Path) -> None:
    index = tmp_path / "model.safetensors.index.json"
    index.write_text("{not json")
    with pytest.raises(PullError, match=re.escape("cannot read model.safetensors.index.json")):
        shard_names(index)


def test_conversion_cost_counts_the_intermediate_only_when_llama_cpp_quantizes(
        tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"torch_dtype": "bfloat16"}))
    weights = 14_483_464_192  # Starling 7B in bf16: 7.24 G parameters
    q4 = conversion_cost(weights, config, describe_quant("q4_k_m"))
    assert q4.intermediate == weights  # a bf16 GGUF first
    assert q4.output == int(weights / 2 * 5.0 / 8)
    q8 = conversion_cost(weights, config, describe_quant("Q8_0"))
    assert (q8.intermediate, q8.output) == (0, int(weights / 2 * 8.5 / 8))
    config.write_text(json.dumps({"torch_dtype": "float32"}))
    f16 = QuantType("f16", "F16", direct=True, bits_per_weight=16.0)
    assert conversion_cost(weights, config, f16).output == weights // 2



def test_model_file_name_matches_the_converter_naming() -> None:
    assert model_file_name("ManniX-ITA/Starling-LM-7B-beta-LaserRMT-v1", "Q4_K_M") == \
        "Starling-LM-7B-beta-LaserRMT-v1-Q4_K_M.gguf"


# -- disk -----------------------------------------------------------------------------------------

def test_human_sizes() -> None:
    assert [human(n) for n in (0, 999, 1500, 4_370_000_000, 14_483_464_192)] == \
        ["0 B", "999 B", "1.5 kB", "4.4 GB", "14.5 GB"]


def test_free_space_needs_on_one_disk_add_up(tmp_path: Path) -> None:
    cache, models = tmp_path / "cache" / "hub", tmp_path / "data" / "models"  # not created yet
    needs = {cache: (600, "to download"), models: (500, "for the conversion")}
    check_free_space(needs, free=lambda path: 1100)
    with pytest.raises(DiskSpaceError) as caught:
        check_free_space(needs, free=lambda path: 1099)
    assert str(caught.value) == (
        f"not enough free disk space in {tmp_path}: need 1.1 kB (600 B to download + 500 B "
        "for the conversion), 1.1 kB free")


# -- cache (offline) ------------------------------------------------------------------------------

def fake_cache(tmp_path: Path, files: list[str], ref: str = "main") -> tuple[Path, Path]:
    cache = tmp_path / "hub"
    storage = cache / "models--owner--Model"
    commit = "a" * 40
    snapshot = storage / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (storage / "refs").mkdir()
    (storage / "refs" / ref).write_text(commit)
    for name in files:
        (snapshot / name).write_text("x")
    return cache, snapshot


def test_offline_checkpoint_lists_exactly_what_is_missing(tmp_path: Path) -> None:
    cache, snapshot = fake_cache(tmp_path, ["config.json", SHARDS[0]])
    write_index(snapshot, SHARDS)
    assert missing_checkpoint_files(snapshot) == ["tokenizer.model", SHARDS[1]]
    with pytest.raises(PullError, match=re.escape(f"missing tokenizer.model, {SHARDS[1]}; run")):
        offline_checkpoint(cache, REPO, "main")
    (snapshot / "tokenizer.model").write_text("x")
    (snapshot / SHARDS[1]).write_text("x")
    assert offline_checkpoint(cache, REPO, "main") == snapshot


def test_offline_lookups_by_branch_or_commit(tmp_path: Path) -> None:
    cache, snapshot = fake_cache(tmp_path, ["config.json", "x.gguf"])
    assert cached_snapshot(cache, REPO, "main") == snapshot
    assert cached_snapshot(cache, REPO, "a" * 40) == snapshot
    assert cached_snapshot(cache, REPO, "dev") is None
    assert cached_snapshot(cache, "owner/Other", "main") is None
    assert offline_file(cache, REPO, "x.gguf", "main") == snapshot / "x.gguf"
    with pytest.raises(PullError, match=re.escape("has no y.gguf of owner/Model at revision main")):
        offline_file(cache, REPO, "y.gguf", "main")
    with pytest.raises(PullError, match="has no copy of owner/Model at revision dev"):
        offline_checkpoint(cache, REPO, "dev")


# -- install --------------------------------------------------------------------------------------

def test_check_gguf_refuses_other_files(tmp_path: Path, smollm2_gguf: Path) -> None:
    check_gguf(smollm2_gguf, "smollm2")
    html = tmp_path / "page.gguf"
    html.write_bytes(b"<!DOCTYPE html><html>")
    with pytest.raises(PullError, match=r"page is not a GGUF model file \(wrong magic bytes: "
                       r"it starts with b'<!DO'\); nothing was installed$"):
        check_gguf(html, "page")
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(smollm2_gguf.read_bytes()[:4096])
    with pytest.raises(PullError, match=r"^cut is truncated.*; nothing was installed$"):
        check_gguf(truncated, "cut")


def test_check_gguf_is_the_models_folder_check(tmp_path: Path) -> None:
    # One check for pull and the models folder: the same reasons, naming what was pulled.
    for content, reason in (
        (b"", "x.gguf of o/r is empty, not a GGUF model"),
        (b"version https://git-lfs.github.com/spec/v1\n", "x.gguf of o/r is a git-lfs pointer"),
    ):
        path = tmp_path / "blob"
        path.write_bytes(content)
        with pytest.raises(PullError, match=f"^{re.escape(reason)}.*; nothing was installed$"):
            check_gguf(path, "x.gguf of o/r")


def test_install_file_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    models = tmp_path / "models"
    source = tmp_path / "m.gguf"
    source.write_bytes(b"GGUF" + b"\0" * 100)
    install_file(source, models / "m.gguf")
    assert (models / "m.gguf").read_bytes() == source.read_bytes()
    with pytest.raises(OSError):
        install_file(tmp_path / "absent.gguf", models / "n.gguf")
    assert sorted(p.name for p in models.iterdir()) == ["m.gguf"]


# -- why download.py keeps its own partial files ---------------------------------------------------

@pytest.mark.slow
def test_huggingface_hub_alone_does_not_resume_across_runs(tmp_path: Path) -> None:
    """huggingface_hub 2.4 resumes a dropped transfer only within one call; afterwards its
    partial file is gone and the next call starts from byte 0. pull's own partial files fill
    that gap (see test_pull_cli's resume tests)."""
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "w.safetensors").write_bytes(os.urandom(12 * 1024 * 1024))
    code = ("import sys; from huggingface_hub import hf_hub_download\n"
            "try: hf_hub_download('o/r', 'w.safetensors')\n"
            "except Exception as e: sys.exit(type(e).__name__)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    with FakeHub() as hub:
        hub.add_repo("o/r", folder)
        env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf"),
                   HF_HUB_DISABLE_TELEMETRY="1")
        hub.drop_connection("o/r", "w.safetensors", at=11 * 1024 * 1024, times=100)
        first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, timeout=120)
        assert first.returncode != 0
        left = list((tmp_path / "hf").rglob("*.incomplete"))
        hub.clear_faults()
        before = len(hub.downloads_of("w.safetensors"))
        second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        retried = hub.downloads_of("w.safetensors")
    # within the first call it did resume (Range from the 10 MiB it had written)...
    assert f"bytes={10 * 1024 * 1024}-" in [g.range for g in retried[:before]]
    # ...but kept nothing, and the second call downloaded everything again
    assert left == []
    assert [g.range for g in retried[before:]] == [None]
