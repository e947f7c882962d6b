"""Hub repo ids: only what conversion needs is fetched (never pickles); offline is one line."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from model_fixtures import read_gguf, run_convert_cli

from convert.api import convert_checkpoint
from starling_tui.paths import app_paths


def test_hub_repo_id_fetches_only_what_conversion_needs(monkeypatch, tiny_checkpoint: Path,
                                                        tmp_path: Path) -> None:
    """snapshot_download is replaced by a local fake that applies huggingface_hub's own
    allow_patterns filtering (tests/fake_hub.py has no /tree endpoint for snapshot_download)."""
    import huggingface_hub
    from huggingface_hub.utils import filter_repo_objects

    repo = tmp_path / "repo"
    shutil.copytree(tiny_checkpoint, repo)
    (repo / "pytorch_model.bin").write_bytes(b"pickle bytes that must never be fetched")
    (repo / "notes.txt").write_text("not needed")
    calls = []

    def fake_snapshot_download(repo_id, *, allow_patterns, local_dir, **kwargs):
        calls.append(repo_id)
        names = [p.name for p in repo.iterdir()]
        Path(local_dir).mkdir(parents=True)
        for name in filter_repo_objects(names, allow_patterns=allow_patterns):
            shutil.copy(repo / name, Path(local_dir) / name)
        return str(local_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    out = convert_checkpoint("someone/tiny-starling", "f16", tmp_path / "m.gguf", quiet=True)
    assert calls == ["someone/tiny-starling"]
    fetched = set(os.listdir(next(app_paths().download_dir.iterdir())))
    assert "pytorch_model.bin" not in fetched and "notes.txt" not in fetched
    assert {"config.json", "tokenizer.model", "model.safetensors.index.json"} <= fetched
    fields = read_gguf(out).fields
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


