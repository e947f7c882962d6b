"""Resumable downloads into the standard Hugging Face cache.

huggingface_hub 2.4 retries a dropped connection with a ``Range`` request *within* one call
(``file_download.http_get``), but it writes each download to a process-unique temporary file
and deletes it when the call fails or is interrupted, so a multi-gigabyte download that is
stopped (Ctrl-C, a laptop lid, a network outage longer than its retries) starts again from
zero. For the weight shards we therefore keep the partial bytes ourselves, in
``blobs/<etag>.incomplete`` of the repo's cache folder, and resume them with ``http_get``'s
``resume_size`` (a ``Range`` request). Once a blob is complete it is renamed into place and
``hf_hub_download`` adds the snapshot link, so the cache looks exactly as if huggingface_hub
had fetched it (and works offline with ``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starling_tui.atomic import replace_durably
from starling_tui.disk import human
from starling_tui.pull.errors import PullError


@dataclass(frozen=True)
class RemoteFile:
    """A file of a repo at a commit, as the Hub's ``HEAD`` describes it."""

    name: str
    url: str  # what to GET (after the Hub's redirects)
    etag: str  # the cache's blob name
    size: int | None
    commit: str
    send_token: bool  # False when the file lives on another host (a CDN)


def hub_cache_dir() -> Path:
    """The Hugging Face cache folder (``HF_HUB_CACHE``, else ``$HF_HOME/hub``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE).expanduser()


def repo_cache_folder(cache_dir: Path, repo: str) -> Path:
    """``models--owner--name`` inside the cache."""
    from huggingface_hub.file_download import repo_folder_name

    return cache_dir / repo_folder_name(repo_id=repo, repo_type="model")


def remote_file(repo: str, filename: str, revision: str) -> RemoteFile:
    """Ask the Hub (``HEAD``) where a file is, how big it is and which blob it is."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo, filename, revision=revision)
    meta = get_hf_file_metadata(url, retry_on_errors=True)
    if meta.etag is None or meta.commit_hash is None:
        raise PullError(f"the Hub sent no ETag or X-Repo-Commit for {filename}; cannot cache it")
    location = meta.location or url
    return RemoteFile(
        name=filename,
        url=location,
        etag=meta.etag,
        size=meta.size,
        commit=meta.commit_hash,
        send_token=urlsplit(location).netloc == urlsplit(url).netloc,
    )


def blob_path(cache_dir: Path, repo: str, remote: RemoteFile) -> Path:
    """Where the complete file lives in the cache."""
    return repo_cache_folder(cache_dir, repo) / "blobs" / remote.etag


def partial_path(cache_dir: Path, repo: str, remote: RemoteFile) -> Path:
    """Where the bytes of an unfinished download are kept between runs."""
    return blob_path(cache_dir, repo, remote).with_name(remote.etag + ".incomplete")


def bytes_present(cache_dir: Path, repo: str, remote: RemoteFile) -> int:
    """How much of a file is already on disk (complete blob or partial download)."""
    blob = blob_path(cache_dir, repo, remote)
    if blob.exists():
        return blob.stat().st_size
    partial = partial_path(cache_dir, repo, remote)
    have = partial.stat().st_size if partial.exists() else 0
    return min(have, remote.size) if remote.size is not None else have


def download_blob(cache_dir: Path, repo: str, remote: RemoteFile, *, progress: bool = True) -> Path:
    """Fetch a file into the cache's blobs, resuming a partial download; return the blob."""
    import httpx2
    from huggingface_hub.file_download import http_get, repo_folder_name
    from huggingface_hub.utils import WeakFileLock, build_hf_headers
    from huggingface_hub.utils.tqdm import silent_tqdm

    blob = blob_path(cache_dir, repo, remote)
    partial = partial_path(cache_dir, repo, remote)
    # Same lock file as huggingface_hub, so a concurrent hf_hub_download waits for us.
    lock = cache_dir / ".locks" / repo_folder_name(repo_id=repo, repo_type="model")
    lock.mkdir(parents=True, exist_ok=True)
    blob.parent.mkdir(parents=True, exist_ok=True)
    with WeakFileLock(lock / f"{remote.etag}.lock"):
        if blob.exists():
            return blob
        headers = build_hf_headers()  # carries HF_TOKEN (or the saved login) when there is one
        headers["Accept-Encoding"] = "identity"  # byte ranges must count raw bytes
        if not remote.send_token:
            headers.pop("authorization", None)
        with open(partial, "r+b" if partial.exists() else "wb") as f:
            have = f.seek(0, os.SEEK_END)
            if remote.size is not None and have > remote.size:  # not ours to trust
                have = f.seek(0)
                f.truncate()
            try:
                http_get(
                    remote.url,
                    f,
                    resume_size=have,
                    headers=headers,
                    expected_size=remote.size,
                    displayed_filename=remote.name,
                    tqdm_class=None if progress else silent_tqdm,
                )
            except httpx2.TransportError as exc:  # http_get has already retried a few times
                raise PullError(
                    f"downloading {remote.name} stopped after {human(f.tell())} "
                    f"({exc or type(exc).__name__}); run the same pull again to resume"
                ) from None
        replace_durably(partial, blob)
    return blob


def link_into_snapshot(cache_dir: Path, repo: str, filename: str, revision: str) -> Path:
    """Let huggingface_hub add a file's snapshot entry (no download: the blob is there)."""
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(repo, filename, revision=revision, cache_dir=cache_dir))
