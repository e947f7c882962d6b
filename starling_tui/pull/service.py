"""The two pulls, start to finish.

- :func:`pull_checkpoint`: the repo's config, tokenizer and safetensors shards into the Hugging
  Face cache (resumable), then the converter (a child process: :mod:`.converter`) to
  ``--quant`` into the models folder;
- :func:`pull_gguf`: one ready-made GGUF file, checked, into the models folder.

Both end by making the model the default. Offline (``HF_HUB_OFFLINE=1``) they use only the
cache. The sizes are shown and free disk is checked before anything large is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

from starling_tui.disk import check_free_space, existing_ancestor, human
from starling_tui.pull import download as dl
from starling_tui.pull.cache import cached_snapshot, offline_checkpoint, offline_file
from starling_tui.pull.errors import PullError
from starling_tui.pull.hub_errors import hub_errors
from starling_tui.pull.install import check_gguf, install_file, make_default
from starling_tui.pull.selection import (
    INDEX_FILE,
    QuantType,
    conversion_cost,
    metadata_files,
    model_file_name,
    weight_files,
)

Say = Callable[[str], None]


def is_offline() -> bool:
    """``HF_HUB_OFFLINE`` (read by huggingface_hub when it is first imported)."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def pull_checkpoint(repo: str, *, quant: str = "q4_k_m", revision: str = "main",
                    say: Say = print, progress: bool | None = None) -> Path:
    """Download (or find offline) ``repo``, convert it to ``quant``, make it the default model."""
    from starling_tui.paths import app_paths
    from starling_tui.pull.converter import describe_quant, run_converter

    kind = describe_quant(quant)
    paths = app_paths()
    target = paths.models_dir / model_file_name(repo, kind.label)
    if target.exists():
        say(f"{target} is already there (delete it to convert again)")
    else:
        folder = fetch_checkpoint(repo, revision=revision, conversion=(target, kind), say=say,
                                  progress=progress)
        run_converter(folder, kind.name, target, repo, progress)
        say(f"converted {repo} to {target}")
    make_default(target, say)
    return target


def fetch_checkpoint(repo: str, *, revision: str = "main", weights: bool = True,
                     conversion: tuple[Path, QuantType] | None = None, say: Say = print,
                     progress: bool | None = None) -> Path:
    """The folder of ``repo``'s checkpoint in the Hugging Face cache, fetched where missing.

    The one download of a Hub checkpoint: ``pull`` and ``starling-convert REPO`` both use it, so
    the same weights are never stored twice. ``weights=False`` fetches only the small files (a
    dry run reads the shards' headers remotely). ``conversion`` (the output file and its type)
    adds the converted file's size to the free-space check. Offline (``HF_HUB_OFFLINE=1``) only
    the cache is used, and a missing file is named.
    """
    cache_dir = dl.hub_cache_dir()
    if is_offline():
        snapshot = cached_snapshot(cache_dir, repo, revision)
        if not weights and snapshot is not None and (snapshot / "config.json").is_file():
            return snapshot
        folder = offline_checkpoint(cache_dir, repo, revision)
        say(f"offline: converting the cached copy of {repo} in {folder}")
        return folder
    return _download_checkpoint(repo, revision, cache_dir, weights, conversion, progress, say)


def _download_checkpoint(repo: str, revision: str, cache_dir: Path, weights: bool,
                         conversion: tuple[Path, QuantType] | None, progress: bool | None,
                         say: Say) -> Path:
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.utils.tqdm import silent_tqdm

    with hub_errors(repo, revision):
        info = HfApi().model_info(repo, revision=revision, files_metadata=True)
    sizes = {s.rfilename: s.size or 0 for s in info.siblings or []}
    commit = str(info.sha)
    small = metadata_files(sizes, repo)
    for name in small:  # small: no need for resumable transfers or progress bars
        with hub_errors(repo, revision, name):
            hf_hub_download(repo, name, revision=revision, cache_dir=cache_dir,
                            tqdm_class=silent_tqdm)
    snapshot = dl.repo_cache_folder(cache_dir, repo) / "snapshots" / commit
    if not (snapshot / "config.json").is_file():
        raise PullError(f"{repo} changed on the Hub while pulling; run the pull again")
    if not weights:
        return snapshot
    index = snapshot / INDEX_FILE if (snapshot / INDEX_FILE).is_file() else None
    remotes = []
    for name in weight_files(index, sizes, repo):
        with hub_errors(repo, revision, name):
            remotes.append(dl.remote_file(repo, name, commit))
    total = sum(r.size or sizes.get(r.name, 0) for r in remotes)
    present = sum(dl.bytes_present(cache_dir, repo, r) for r in remotes)
    needs = {cache_dir: (total - present, "to download")}
    then = ""
    if conversion is not None:
        target, quant = conversion
        cost = conversion_cost(total, snapshot / "config.json", quant)
        needs[target.parent] = (cost.total, "for the conversion")
        then = f"; converting needs about {human(cost.total)} more in " \
               f"{existing_ancestor(target.parent)}"
    say(f"{repo} ({commit[:12]}): {len(small) + len(remotes)} files, {human(total)} of weights"
        f" ({human(present)} already downloaded){then}")
    check_free_space(needs)
    for number, remote in enumerate(remotes, 1):
        have = dl.bytes_present(cache_dir, repo, remote)
        resume = f", resuming after {human(have)}" if 0 < have < (remote.size or 0) else ""
        say(f"[{number}/{len(remotes)}] {remote.name} ({human(remote.size or 0)}{resume})")
        with hub_errors(repo, revision, remote.name):
            dl.download_blob(cache_dir, repo, remote, progress=progress is not False)
            dl.link_into_snapshot(cache_dir, repo, remote.name, commit)
    return snapshot


def pull_gguf(repo: str, filename: str, *, revision: str = "main", say: Say = print,
              progress: bool | None = None) -> Path:
    """Fetch a ready-made GGUF file of ``repo``, check it, make it the default model."""
    from starling_tui.paths import app_paths

    if not filename.lower().endswith(".gguf"):
        raise PullError(f"--gguf needs a .gguf file name, got {filename!r}")
    target = app_paths().models_dir / PurePosixPath(filename).name
    cache_dir = dl.hub_cache_dir()
    if is_offline():
        path = offline_file(cache_dir, repo, filename, revision)
        say(f"offline: using the cached {filename} of {repo}")
    else:
        path = _download_file(repo, filename, revision, cache_dir, target, progress, say)
    check_gguf(path, f"{filename} of {repo}")
    install_file(path, target)
    say(f"installed {target}")
    make_default(target, say)
    return target


def _download_file(repo: str, filename: str, revision: str, cache_dir: Path, target: Path,
                   progress: bool | None, say: Say) -> Path:
    import os

    with hub_errors(repo, revision, filename):
        remote = dl.remote_file(repo, filename, revision)
    size = remote.size or 0
    present = dl.bytes_present(cache_dir, repo, remote)
    say(f"{repo} ({remote.commit[:12]}): {filename}, {human(size)} ({human(present)} already "
        "downloaded)")
    same_disk = (os.stat(existing_ancestor(cache_dir)).st_dev
                 == os.stat(existing_ancestor(target.parent)).st_dev)
    check_free_space({
        cache_dir: (size - present, "to download"),
        target.parent: (0 if same_disk else size, "for the models folder copy"),
    })
    with hub_errors(repo, revision, filename):
        dl.download_blob(cache_dir, repo, remote, progress=progress is not False)
        return dl.link_into_snapshot(cache_dir, repo, filename, revision)
