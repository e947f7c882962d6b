"""End-to-end runs of the real ``starling-tui pull`` against the fake Hub in ``fake_hub.py``.

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
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_hub import FakeHub
from interrupts import take_ctrl_c
from pull_cli_support import (
    ALLOWED_PATH,
    CUT,
    DEFAULT_REPO,
    MODEL_NAME,
    ON_DISK,
    ROOT,
    SHARD,
    SHARD_SIZE,
    assert_no_model_files,
    assert_one_line_error,
    blobs,
    default_model,
    models_dir,
    starling,
)


@pytest.fixture
def repo_folder(tiny_checkpoint: Path, tmp_path: Path) -> Path:
    """The tiny checkpoint as a Hub repo, plus files pull must never fetch."""
    folder = tmp_path / "repo"
    folder.mkdir()
    for item in tiny_checkpoint.iterdir():
        (folder / item.name).symlink_to(item)
    (folder / "pytorch_model.bin").write_bytes(b"PK\x03\x04 a pickle" * 1000)
    (folder / "consolidated.safetensors").write_bytes(b"\0" * 4096)  # not in the index
    (folder / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    return folder


@pytest.fixture(params=[False], ids=["direct"])
def hub(repo_folder: Path, request: pytest.FixtureRequest) -> Iterator[FakeHub]:
    """The fake Hub serving the repo; ``lfs_redirect`` from the fixture parameter."""
    with FakeHub(lfs_redirect=request.param) as fake:
        fake.add_repo(DEFAULT_REPO, repo_folder)
        yield fake


@pytest.fixture
def hf_home(tmp_path: Path) -> Path:
    return tmp_path / "hf-home"


@pytest.mark.slow
def test_pull_converts_the_default_repo_and_ask_uses_it(
        hub: FakeHub, hf_home: Path, isolated_home: Path) -> None:
    result = starling("pull", hub=hub, hf_home=hf_home)
    assert result.returncode == 0, result.stderr
    model = models_dir(isolated_home) / f"{MODEL_NAME}.gguf"
    assert model.is_file()
    assert default_model(isolated_home) == MODEL_NAME
    # The size is announced before the weights are fetched.
    out = result.stdout
    assert re.search(r"11 files, 35\.1 MB of weights \(0 B already downloaded\)", out), out
    assert out.index("35.1 MB") < out.index(f"[1/3] {SHARD}")
    # Only what conversion needs, never the pickle or a file outside the index; nothing else.
    fetched = {s.file for s in hub.file_gets()}
    assert fetched == {
        "config.json", "generation_config.json", "README.md", "tokenizer.model",
        "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "model.safetensors.index.json", SHARD, "model-00002-of-00003.safetensors",
        "model-00003-of-00003.safetensors"}
    assert all(ALLOWED_PATH.match(s.path) for s in hub.served), [s.path for s in hub.served]
    assert all(len(hub.downloads_of(name)) == 1 for name in fetched)  # each file once

    from starling_tui.models import inspect_model

    info = inspect_model(model)
    assert (info.quant, info.template) == ("Q4_K_M", "openchat")
    assert info.title == "Starling-LM-7B-beta-LaserRMT-v1"  # not the snapshot's commit hash
    from gguf import GGUFReader

    source = GGUFReader(model).fields["general.source.repo_url"].contents()
    assert source == "https://huggingface.co/ManniX-ITA/Starling-LM-7B-beta-LaserRMT-v1"

    answer = starling("ask", "Hello", "--max-tokens", "4", hub=hub, hf_home=hf_home,
                      timeout=120)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip()
    requests_before = len(hub.served)
    again = starling("pull", hub=hub, hf_home=hf_home)
    assert again.returncode == 0, again.stderr
    assert "already there" in again.stdout
    assert len(hub.served) == requests_before  # nothing to fetch


@pytest.mark.slow
def test_dropped_connection_is_resumed_with_a_range_request(
        hub: FakeHub, hf_home: Path, isolated_home: Path) -> None:
    # Within one run: huggingface_hub's http_get retries from what it had written.
    hub.drop_connection(DEFAULT_REPO, SHARD, at=CUT, times=1)
    result = starling("pull", "--quant", "q8_0", hub=hub, hf_home=hf_home)
    assert result.returncode == 0, result.stderr
    gets = hub.downloads_of(SHARD)
    assert [(g.range, g.body_bytes) for g in gets] == [
        (None, CUT), (f"bytes={ON_DISK}-", SHARD_SIZE - ON_DISK)]


@pytest.mark.slow
@pytest.mark.parametrize("hub", [False, True], ids=["direct", "lfs-cdn-redirect"],
                         indirect=True)
def test_failed_run_keeps_the_partial_file_and_the_next_run_fetches_only_the_rest(
        hub: FakeHub, hf_home: Path, isolated_home: Path) -> None:
    hub.drop_connection(DEFAULT_REPO, SHARD, at=CUT, times=100)  # outlasts http_get's retries
    first = starling("pull", hub=hub, hf_home=hf_home)
    assert_one_line_error(first, f"downloading {SHARD} stopped after 10.5 MB",
                          "run the same pull again to resume")
    partial = [p for p in blobs(hf_home, DEFAULT_REPO).iterdir() if p.name.endswith(".incomplete")]
    assert [p.stat().st_size for p in partial] == [ON_DISK]
    assert_no_model_files(isolated_home)
    assert default_model(isolated_home) is None

    hub.clear_faults()
    before = len(hub.downloads_of(SHARD))
    second = starling("pull", hub=hub, hf_home=hf_home)
    assert second.returncode == 0, second.stderr
    assert "resuming after 10.5 MB" in second.stdout
    assert "(10.5 MB already downloaded)" in second.stdout
    resumed = hub.downloads_of(SHARD)[before:]
    assert [(g.range, g.body_bytes) for g in resumed] == [
        (f"bytes={ON_DISK}-", SHARD_SIZE - ON_DISK)]
    assert not partial[0].exists()
    assert (models_dir(isolated_home) / f"{MODEL_NAME}.gguf").is_file()


@pytest.mark.slow
def test_ctrl_c_keeps_the_partial_download(
        hub: FakeHub, hf_home: Path, isolated_home: Path, tmp_path: Path) -> None:
    import signal
    import time

    release = hub.stall(DEFAULT_REPO, SHARD, at=CUT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(hf_home))
    proc = subprocess.Popen([sys.executable, "-m", "starling_tui.cli.main", "pull"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=take_ctrl_c)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            folder = blobs(hf_home, DEFAULT_REPO)
            parts = list(folder.glob("*.incomplete")) if folder.exists() else []
            if parts and parts[0].stat().st_size == ON_DISK:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the download never reached the stall point")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.strip() == ("starling-tui: error: interrupted; run the same pull again to resume "
                           "the download")
    assert parts[0].stat().st_size == ON_DISK
    release.set()
    hub.clear_faults()
    before = len(hub.downloads_of(SHARD))
    second = starling("pull", "--quant", "q8_0", hub=hub, hf_home=hf_home)
    assert second.returncode == 0, second.stderr
    assert [g.range for g in hub.downloads_of(SHARD)[before:]] == [f"bytes={ON_DISK}-"]


def test_too_little_free_disk_stops_before_downloading_weights(
        hub: FakeHub, hf_home: Path, isolated_home: Path) -> None:
    result = starling("pull", hub=hub, hf_home=hf_home, free_disk=40_000_000)
    line = assert_one_line_error(result, "not enough free disk space in")
    # cache and models folder share this disk: download + conversion add up (46.1 MB for Q4_K_M)
    assert "need 81.2 MB (35.1 MB to download + 46.1 MB for the conversion), 40.0 MB free" in line
    assert not any(s.path.endswith(".safetensors") for s in hub.file_gets())
    assert_no_model_files(isolated_home)


def test_a_repo_with_only_bin_weights_is_refused(
        tiny_checkpoint: Path, tmp_path: Path, hf_home: Path, isolated_home: Path) -> None:
    folder = tmp_path / "bin-repo"
    folder.mkdir()
    for name in ("config.json", "tokenizer.model", "tokenizer_config.json"):
        (folder / name).symlink_to(tiny_checkpoint / name)
    (folder / "pytorch_model.bin").write_bytes(b"PK\x03\x04" * 100)
    with FakeHub() as hub:
        hub.add_repo("someone/bin-only", folder)
        result = starling("pull", "someone/bin-only", hub=hub, hf_home=hf_home)
    assert_one_line_error(result, "someone/bin-only only has PyTorch pickle weights",
                          "pytorch_model.bin", "safetensors only")
    assert hub.file_gets() == []
    assert_no_model_files(isolated_home)


@pytest.mark.slow
def test_offline_pull_converts_from_the_cache_without_any_request(
        hub: FakeHub, hf_home: Path, isolated_home: Path) -> None:
    online = starling("pull", "--quant", "q8_0", hub=hub, hf_home=hf_home)
    assert online.returncode == 0, online.stderr
    requests = len(hub.served)
    offline = starling("pull", hub=hub, hf_home=hf_home, offline=True)
    assert offline.returncode == 0, offline.stderr
    assert "offline: converting the cached copy" in offline.stdout
    assert len(hub.served) == requests
    assert (models_dir(isolated_home) / f"{MODEL_NAME}.gguf").is_file()
    assert default_model(isolated_home) == MODEL_NAME


def test_offline_without_the_cache_says_what_is_missing(
        hub: FakeHub, hf_home: Path, isolated_home: Path) -> None:
    result = starling("pull", hub=hub, hf_home=hf_home, offline=True)
    assert_one_line_error(result, "offline (HF_HUB_OFFLINE=1)", str(hf_home / "hub"),
                          f"no copy of {DEFAULT_REPO} at revision main")
    elsewhere = hf_home.parent / "elsewhere"  # HF_HUB_CACHE wins over HF_HOME
    result = starling("pull", "--revision", "v1", hub=hub, hf_home=hf_home, offline=True,
                      env={"HF_HUB_CACHE": str(elsewhere)})
    assert_one_line_error(result, f"cache {elsewhere} has no copy of {DEFAULT_REPO} at revision v1")
    assert hub.served == []
    assert_no_model_files(isolated_home)


@pytest.mark.slow
def test_offline_with_an_incomplete_cache_names_the_missing_shard(
        hub: FakeHub, hf_home: Path, isolated_home: Path) -> None:
    hub.drop_connection(DEFAULT_REPO, "model-00003-of-00003.safetensors", at=1000, times=100)
    assert starling("pull", hub=hub, hf_home=hf_home).returncode == 1
    result = starling("pull", hub=hub, hf_home=hf_home, offline=True)
    assert_one_line_error(result, "is incomplete: missing model-00003-of-00003.safetensors;")
    assert_no_model_files(isolated_home)


@pytest.mark.slow
def test_pull_converts_what_starling_convert_downloaded_without_fetching_it_again(
        hub: FakeHub, hf_home: Path, isolated_home: Path, tmp_path: Path) -> None:
    """One Hub download per repo: `starling-convert REPO` fills the same cache `pull` reads."""
    from model_fixtures import run_convert_cli

    env = {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "0",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    converted = run_convert_cli(DEFAULT_REPO, "--outtype", "f16", "--quiet",
                                "--outfile", str(tmp_path / "m.gguf"), env=env)
    assert converted.returncode == 0, converted.stderr
    offline = starling("pull", hub=hub, hf_home=hf_home, offline=True)
    assert offline.returncode == 0, offline.stderr
    assert "offline: converting the cached copy" in offline.stdout
    assert (models_dir(isolated_home) / f"{MODEL_NAME}.gguf").is_file()
