"""A fake Hugging Face Hub: a threaded HTTP server on 127.0.0.1 that serves local folders.

It implements only what huggingface_hub 2.4 calls for ``pull``:

- ``GET /api/models/{repo}[/revision/{rev}]`` → model info with ``siblings`` (sizes, blob ids,
  LFS sha256 when ``?blobs=true``) and the commit ``sha``;
- ``GET /api/models/{repo}/tree/{rev}`` → the file list (one page), as ``snapshot_download``
  lists a repo;
- ``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` → the file, with ``ETag`` (LFS files: their
  sha256, like the Hub's ``X-Linked-Etag``), ``X-Repo-Commit``, ``Content-Length``,
  ``Accept-Ranges`` and ``Range`` requests answered with ``206``;
- Hub-style errors: ``X-Error-Code`` ``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``,
  ``GatedRepo`` (a repo can require a token);
- optionally (``lfs_redirect=True``), like huggingface.co, LFS files answer ``302`` with
  ``X-Linked-Etag``/``X-Linked-Size`` and a ``Location`` on another host name
  (``localhost`` instead of ``127.0.0.1``: a "CDN" that needs no token, at ``/cdn/...``).

It never advertises Xet storage (no ``X-Xet-*`` headers, no ``xet-auth`` link), so clients use
plain HTTP even with ``hf_xet`` installed. Faults can be injected: drop the connection at a byte
offset of a file (a number of times), or stall there until the test releases it. Every request is
recorded so tests can assert on ``Range`` headers and on the bytes actually sent.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

from fake_hub_files import FakeFile, FakeRepo, Fault, Served, fake_file
from fake_hub_handler import Handler as _Handler

__all__ = ["FakeFile", "FakeHub", "FakeRepo", "Served"]


@dataclass
class FakeHub:
    """The server and the repos it serves; use as a context manager."""

    lfs_redirect: bool = False
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    served: list[Served] = field(default_factory=list)
    _faults: dict[tuple[str, str], Fault] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _endpoint: str = ""

    # -- set-up -------------------------------------------------------------------------------
    def add_repo(self, repo_id: str, folder: Path, *, token: str | None = None,
                 skip: tuple[str, ...] = ()) -> FakeRepo:
        """Serve every file under ``folder`` (except names in ``skip``) as ``repo_id``."""
        files = {
            p.relative_to(folder).as_posix(): fake_file(p)
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in skip
        }
        commit = hashlib.sha1(
            "".join(f"{n}:{f.etag}" for n, f in files.items()).encode()).hexdigest()
        repo = FakeRepo(repo_id, files, commit, token)
        self.repos[repo_id] = repo
        return repo

    def drop_connection(self, repo_id: str, filename: str, at: int, times: int = 1) -> None:
        """Cut the next ``times`` downloads of a file once byte ``at`` of the file is reached."""
        self._faults[(repo_id, filename)] = Fault(at, times)

    def stall(self, repo_id: str, filename: str, at: int) -> threading.Event:
        """Hold downloads of a file at byte ``at`` until the returned event is set."""
        release = threading.Event()
        self._faults[(repo_id, filename)] = Fault(at, 1_000_000, release)
        return release

    def clear_faults(self) -> None:
        """Serve everything normally again."""
        for fault in self._faults.values():
            if fault.release is not None:
                fault.release.set()
        self._faults.clear()

    # -- inspection ---------------------------------------------------------------------------
    def downloads_of(self, filename: str) -> list[Served]:
        """The GET requests that were sent bytes of a file (any repo; redirects excluded)."""
        return [s for s in self.file_gets() if s.file == filename]

    def file_gets(self) -> list[Served]:
        """All GET requests answered with file bytes."""
        with self._lock:
            return [s for s in self.served if s.method == "GET" and s.file is not None
                    and s.status in (200, 206)]

    # -- server -------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``; still valid (and refusing connections) once stopped."""
        assert self._endpoint, "FakeHub was never started"
        return self._endpoint

    def __enter__(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake_hub = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self._endpoint = f"http://{host}:{port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear_faults()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _record(self, served: Served) -> None:
        with self._lock:
            self.served.append(served)
