"""The fake Hub's records: requests served, the files and repos it serves, injected faults."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".model", ".pt")


@dataclass
class Served:
    """One request the server answered."""

    method: str
    path: str
    range: str | None
    authorization: str | None
    status: int = 0
    body_bytes: int = 0
    file: str | None = None  # the repo file whose bytes were requested


@dataclass
class FakeFile:
    """A file of a fake repo: its bytes on disk and the ids the Hub would report."""

    source: Path
    size: int
    git_oid: str
    sha256: str | None  # set for LFS-stored files

    @property
    def etag(self) -> str:
        return self.sha256 or self.git_oid


@dataclass
class FakeRepo:
    """A model repo with one commit on ``main``."""

    repo_id: str
    files: dict[str, FakeFile]
    commit: str
    token: str | None = None  # when set, the repo is gated and needs this token


@dataclass
class Fault:
    offset: int
    times: int
    release: threading.Event | None = None  # stall instead of dropping


def fake_file(path: Path) -> FakeFile:
    data_hash = hashlib.sha256()
    size = path.stat().st_size
    git = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            data_hash.update(chunk)
            git.update(chunk)
    lfs = path.name.endswith(LFS_SUFFIXES)
    return FakeFile(path, size, git.hexdigest(), data_hash.hexdigest() if lfs else None)
