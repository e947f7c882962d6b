"""``starling-tui pull --gguf`` (a ready-made file), bad input, an unreachable Hub: end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_hub import FakeHub
from pull_cli_support import (
    assert_no_model_files,
    assert_one_line_error,
    default_model,
    models_dir,
    starling,
)


@pytest.fixture
def hf_home(tmp_path: Path) -> Path:
    return tmp_path / "hf-home"


@pytest.fixture
def gguf_repo(starling_q4km_gguf: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "gguf-repo"
    folder.mkdir()
    (folder / "tiny-starling.Q4_K_M.gguf").symlink_to(starling_q4km_gguf)
    (folder / "broken.gguf").write_bytes(b"version https://git-lfs.github.com/spec/v1\n" * 3)
    (folder / "README.md").write_text("a GGUF repo\n")
    return folder


@pytest.mark.slow
def test_pull_gguf_installs_a_ready_made_file(
        gguf_repo: Path, starling_q4km_gguf: Path, hf_home: Path, isolated_home: Path) -> None:
    with FakeHub(lfs_redirect=True) as hub:
        hub.add_repo("someone/tiny-gguf", gguf_repo, token="hf_secret")
        locked = starling("pull", "--gguf", "someone/tiny-gguf", "tiny-starling.Q4_K_M.gguf",
                          hub=hub, hf_home=hf_home)
        assert_one_line_error(locked, "someone/tiny-gguf is gated", "HF_TOKEN")
        result = starling("pull", "--gguf", "someone/tiny-gguf", "tiny-starling.Q4_K_M.gguf",
                          hub=hub, hf_home=hf_home, env={"HF_TOKEN": "hf_secret"})
        assert result.returncode == 0, result.stderr
        # The token goes to the Hub, never to the (other host) CDN the file is redirected to.
        sent = [(s.method, s.path.split("/")[1], s.authorization) for s in hub.served[-3:]]
        assert sent == [("HEAD", "someone", "Bearer hf_secret"), ("GET", "cdn", None),
                        ("HEAD", "someone", "Bearer hf_secret")]
    installed = models_dir(isolated_home) / "tiny-starling.Q4_K_M.gguf"
    assert installed.read_bytes() == starling_q4km_gguf.read_bytes()
    assert default_model(isolated_home) == "tiny-starling.Q4_K_M"
    assert sorted(p.name for p in models_dir(isolated_home).iterdir()) == [installed.name]

    # Offline, the cached copy is enough; a file the cache lacks is named.
    installed.unlink()
    offline = starling("pull", "--gguf", "someone/tiny-gguf", "tiny-starling.Q4_K_M.gguf",
                       hub=hub, hf_home=hf_home, offline=True)
    assert offline.returncode == 0, offline.stderr
    assert installed.is_file()
    missing = starling("pull", "--gguf", "someone/tiny-gguf", "other.gguf", hub=hub,
                       hf_home=hf_home, offline=True)
    assert_one_line_error(missing, "has no other.gguf of someone/tiny-gguf")


def test_pull_gguf_refuses_a_file_that_is_not_gguf(
        gguf_repo: Path, hf_home: Path, isolated_home: Path) -> None:
    with FakeHub() as hub:
        hub.add_repo("someone/tiny-gguf", gguf_repo)
        bad = starling("pull", "--gguf", "someone/tiny-gguf", "broken.gguf", hub=hub,
                       hf_home=hf_home)
        absent = starling("pull", "--gguf", "someone/tiny-gguf", "nope.gguf", hub=hub,
                          hf_home=hf_home)
        no_repo = starling("pull", "--gguf", "someone/else", "x.gguf", hub=hub, hf_home=hf_home)
        bad_rev = starling("pull", "--gguf", "someone/tiny-gguf", "broken.gguf", "--revision",
                           "v9", hub=hub, hf_home=hf_home)
    assert_one_line_error(bad, "broken.gguf of someone/tiny-gguf is a git-lfs pointer, not the "
                          "model itself; nothing was installed")
    assert_one_line_error(absent, "someone/tiny-gguf has no file 'nope.gguf'")
    assert_one_line_error(no_repo, "someone/else was not found on http://127.0.0.1:")
    assert_one_line_error(bad_rev, "someone/tiny-gguf has no revision 'v9'")
    mixed = starling("pull", "other/repo", "--gguf", "someone/tiny-gguf", "x.gguf", hub=hub,
                     hf_home=hf_home)
    assert_one_line_error(mixed, "either REPO (to convert) or --gguf REPO FILE")
    bad_quant = starling("pull", "--quant", "q9_z", hub=hub, hf_home=hf_home)
    assert_one_line_error(bad_quant, "unknown --quant 'q9_z'")
    assert_no_model_files(isolated_home)
    assert default_model(isolated_home) is None


def test_unreachable_hub_is_one_line(hf_home: Path, isolated_home: Path) -> None:
    with FakeHub() as hub:
        pass  # stopped: its port now refuses connections
    result = starling("pull", hub=hub, hf_home=hf_home, timeout=120)
    assert_one_line_error(result, "cannot reach http://127.0.0.1:", "HF_HUB_OFFLINE=1")
