"""Hub repo ids against a fake Hub (tests/fake_hub.py): only what conversion needs is fetched
(never pickles), a dry run reads only the weights' headers, offline is one line."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fake_hub import FakeHub
from model_fixtures import read_gguf, run_convert_cli
from starling_convert.weights import find_weights

from starling_tui.disk import human
from starling_tui.paths import app_paths


def hub_env(hub: FakeHub, tmp_path: Path) -> dict[str, str]:
    """Environment for a CLI run against the fake Hub, with its own HF cache."""
    return {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf-home"),
            "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def cached_files(tmp_path: Path, repo: str) -> set[str]:
    """The file names of ``repo``'s snapshots in the run's Hugging Face cache."""
    storage = tmp_path / "hf-home" / "hub" / ("models--" + repo.replace("/", "--"))
    return {p.name for p in (storage / "snapshots").rglob("*") if p.is_file()}


def test_hub_repo_id_fetches_only_what_conversion_needs(tiny_checkpoint: Path,
                                                        tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(tiny_checkpoint, repo)
    (repo / "pytorch_model.bin").write_bytes(b"pickle bytes that must never be fetched")
    (repo / "notes.txt").write_text("not needed")
    with FakeHub() as hub:
        hub.add_repo("someone/tiny-starling", repo)
        result = run_convert_cli("someone/tiny-starling", "--outtype", "f16", "--quiet",
                                 "--outfile", str(tmp_path / "m.gguf"), env=hub_env(hub, tmp_path))
        fetched_names = {s.file for s in hub.file_gets()}
    assert result.returncode == 0, result.stderr
    assert "pytorch_model.bin" not in fetched_names and "notes.txt" not in fetched_names
    fetched = cached_files(tmp_path, "someone/tiny-starling")  # pull's cache, not a copy
    assert "pytorch_model.bin" not in fetched and "notes.txt" not in fetched
    assert {"config.json", "tokenizer.model", "model.safetensors.index.json"} <= fetched
    fields = read_gguf(tmp_path / "m.gguf").fields
    assert fields["general.source.repo_url"].contents() == \
        "https://huggingface.co/someone/tiny-starling"
    assert fields["general.name"].contents() == "tiny-starling"


def test_unreachable_hub_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_convert_cli("someone/absent", "--outfile", str(tmp_path / "m.gguf"),
                             env={"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0"})
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot download someone/absent" in result.stderr
    assert not os.path.exists(tmp_path / "m.gguf")




def test_dry_run_of_a_repo_id_reads_only_the_weights_headers(tiny_checkpoint: Path,
                                                               tmp_path: Path) -> None:
    with FakeHub() as hub:
        hub.add_repo("someone/tiny-starling", tiny_checkpoint)
        result = run_convert_cli("someone/tiny-starling", "--dry-run", "--outtype", "q8_0",
                                 env=hub_env(hub, tmp_path))
        shard_gets = [s for s in hub.file_gets() if s.file and s.file.endswith(".safetensors")]
    assert result.returncode == 0, result.stderr
    shards = sorted(p.name for p in tiny_checkpoint.glob("*.safetensors"))
    assert sorted(s.file for s in shard_gets) == shards  # each header read once...
    for get in shard_gets:  # ...with a range request, never the whole file
        assert get.range is not None and get.range.startswith("bytes=0-")
        assert get.body_bytes < (tiny_checkpoint / str(get.file)).stat().st_size
    weights = sum(ref.nbytes for ref in find_weights(tiny_checkpoint).values())
    assert "dry run: would write" in result.stderr
    assert f"would download {human(weights)} of weights" in result.stderr
    downloaded = cached_files(tmp_path, "someone/tiny-starling")
    assert "config.json" in downloaded and not any(n.endswith(".safetensors") for n in downloaded)
    assert not app_paths().models_dir.exists() or not list(app_paths().models_dir.iterdir())


def test_dry_run_of_a_repo_id_checks_the_remote_headers(tiny_checkpoint: Path,
                                                         tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(tiny_checkpoint, repo)
    shard = sorted(repo.glob("*.safetensors"))[0]
    data = bytearray(shard.read_bytes())
    header_len = int.from_bytes(data[:8], "little")
    header = bytes(data[8 : 8 + header_len])
    dtype = b'"BF16"' if b'"BF16"' in header else b'"F32"'  # same length: pad with spaces
    data[8 : 8 + header_len] = header.replace(dtype, b'"I8"'.ljust(len(dtype)), 1)
    shard.write_bytes(bytes(data))
    with FakeHub() as hub:
        hub.add_repo("someone/bad-dtype", repo)
        result = run_convert_cli("someone/bad-dtype", "--dry-run", env=hub_env(hub, tmp_path))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "unsupported dtype I8" in result.stderr


def test_dry_run_after_a_download_needs_no_network(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with FakeHub() as hub:
        hub.add_repo("someone/tiny-starling", tiny_checkpoint)
        env = hub_env(hub, tmp_path)
        done = run_convert_cli("someone/tiny-starling", "--outtype", "f16", "--quiet",
                               "--outfile", str(tmp_path / "m.gguf"), env=env)
        assert done.returncode == 0, done.stderr
    # the Hub is gone now: offline, the dry run reads the downloaded shards' headers
    result = run_convert_cli("someone/tiny-starling", "--dry-run",
                             env={**env, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    assert "dry run: would write" in result.stderr and "would download" not in result.stderr


def test_an_index_naming_a_path_outside_the_folder_is_refused(tiny_checkpoint: Path,
                                                              tmp_path: Path) -> None:
    import json

    repo = tmp_path / "repo"
    shutil.copytree(tiny_checkpoint, repo)
    index_path = repo / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    index["weight_map"][next(iter(index["weight_map"]))] = "../evil.safetensors"
    index_path.write_text(json.dumps(index))
    with FakeHub() as hub:  # the same selection as pull: refused before any shard is fetched
        hub.add_repo("someone/evil", repo)
        result = run_convert_cli("someone/evil", "--dry-run", env=hub_env(hub, tmp_path))
        fetched = {s.file for s in hub.file_gets()}
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "unexpected weight file '../evil.safetensors'" in result.stderr
    assert not any(name and name.endswith(".safetensors") for name in fetched)
    local = run_convert_cli(str(repo), "--dry-run")  # a local folder's index: the same check
    assert local.returncode == 1 and "unexpected weight file" in local.stderr
