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
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".model", ".pt")
_CHUNK = 64 * 1024


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
class _Fault:
    offset: int
    times: int
    release: threading.Event | None = None  # stall instead of dropping


@dataclass
class FakeHub:
    """The server and the repos it serves; use as a context manager."""

    lfs_redirect: bool = False
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    served: list[Served] = field(default_factory=list)
    _faults: dict[tuple[str, str], _Fault] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _endpoint: str = ""

    # -- set-up -------------------------------------------------------------------------------
    def add_repo(self, repo_id: str, folder: Path, *, token: str | None = None,
                 skip: tuple[str, ...] = ()) -> FakeRepo:
        """Serve every file under ``folder`` (except names in ``skip``) as ``repo_id``."""
        files = {
            p.relative_to(folder).as_posix(): _fake_file(p)
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
        self._faults[(repo_id, filename)] = _Fault(at, times)

    def stall(self, repo_id: str, filename: str, at: int) -> threading.Event:
        """Hold downloads of a file at byte ``at`` until the returned event is set."""
        release = threading.Event()
        self._faults[(repo_id, filename)] = _Fault(at, 1_000_000, release)
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


def _fake_file(path: Path) -> FakeFile:
    data_hash = hashlib.sha256()
    size = path.stat().st_size
    git = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            data_hash.update(chunk)
            git.update(chunk)
    lfs = path.name.endswith(LFS_SUFFIXES)
    return FakeFile(path, size, git.hexdigest(), data_hash.hexdigest() if lfs else None)


_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
_TREE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_CDN = re.compile(r"^/cdn/(?P<repo>[^/]+/[^/]+)/(?P<sha>[0-9a-f]{64})$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake_hub: FakeHub

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        return None

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    # -- routing ------------------------------------------------------------------------------
    def _dispatch(self, head: bool) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        served = Served(self.command, path, self.headers.get("Range"),
                        self.headers.get("Authorization"))
        self.fake_hub._record(served)
        try:
            self._route(served, path, url.query, head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (a test killed it)

    def _route(self, served: Served, path: str, query: str, head: bool) -> None:
        if match := _TREE.match(path):
            self._tree(served, match["repo"], match["rev"])
        elif match := _INFO.match(path):
            self._model_info(served, match["repo"], match["rev"] or "main", "blobs=true" in query)
        elif match := _RESOLVE.match(path):
            self._resolve(served, match["repo"], match["rev"], match["file"], head)
        elif match := _CDN.match(path):
            self._cdn(served, match["repo"], match["sha"], head)
        else:
            self._error(served, 404, None, "not found")

    def _repo(self, served: Served, repo_id: str, revision: str) -> FakeRepo | None:
        repo = self.fake_hub.repos.get(repo_id)
        if repo is None:
            self._error(served, 404, "RepoNotFound", "Repository not found")
            return None
        if repo.token is not None and served.authorization != f"Bearer {repo.token}":
            self._error(served, 401, "GatedRepo", "Access to this gated repo is restricted")
            return None
        if revision not in ("main", repo.commit):
            self._error(served, 404, "RevisionNotFound", "Invalid rev id")
            return None
        return repo

    # -- endpoints ----------------------------------------------------------------------------
    def _model_info(self, served: Served, repo_id: str, revision: str, blobs: bool) -> None:
        repo = self._repo(served, repo_id, revision)
        if repo is None:
            return
        siblings = []
        for name, f in repo.files.items():
            entry: dict[str, object] = {"rfilename": name}
            if blobs:
                entry.update(size=f.size, blobId=f.git_oid)
                if f.sha256:
                    entry["lfs"] = {"size": f.size, "sha256": f.sha256, "pointerSize": 134}
            siblings.append(entry)
        body = json.dumps({
            "_id": repo.commit[:24], "id": repo_id, "modelId": repo_id, "sha": repo.commit,
            "private": False, "gated": "auto" if repo.token else False, "disabled": False,
            "tags": [], "downloads": 0, "likes": 0, "library_name": "transformers",
            "lastModified": "2024-04-01T00:00:00.000Z", "siblings": siblings,
        }).encode()
        self._send(served, 200, {"Content-Type": "application/json"}, body)

    def _tree(self, served: Served, repo_id: str, revision: str) -> None:
        repo = self._repo(served, repo_id, revision)
        if repo is None:
            return
        entries = []
        for name, f in repo.files.items():
            entry: dict[str, object] = {"type": "file", "path": name, "size": f.size,
                                        "oid": f.git_oid}
            if f.sha256:
                entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
            entries.append(entry)
        self._send(served, 200, {"Content-Type": "application/json"}, json.dumps(entries).encode())

    def _resolve(self, served: Served, repo_id: str, revision: str, name: str, head: bool) -> None:
        repo = self._repo(served, repo_id, revision)
        if repo is None:
            return
        f = repo.files.get(name)
        if f is None:
            self._error(served, 404, "EntryNotFound", f"{name} does not exist on {revision}")
            return
        if self.fake_hub.lfs_redirect and f.sha256:
            port = self.fake_hub.endpoint.rsplit(":", 1)[1]
            self._send(served, 302, {
                "Location": f"http://localhost:{port}/cdn/{repo_id}/{f.sha256}",
                "ETag": f'"{f.git_oid}"', "X-Linked-Etag": f'"{f.sha256}"',
                "X-Linked-Size": str(f.size), "X-Repo-Commit": repo.commit}, b"")
            return
        self._serve_file(served, repo, name, f, head)

    def _cdn(self, served: Served, repo_id: str, sha: str, head: bool) -> None:
        repo = self.fake_hub.repos.get(repo_id)
        found = [(n, f) for n, f in (repo.files.items() if repo else []) if f.sha256 == sha]
        if repo is None or not found:
            self._error(served, 404, None, "no such object")
            return
        self._serve_file(served, repo, *found[0], head)

    def _serve_file(self, served: Served, repo: FakeRepo, name: str, f: FakeFile,
                    head: bool) -> None:
        served.file = name
        start, end = 0, f.size - 1
        status = 200
        if served.range and not head:
            match = _RANGE.match(served.range)
            if match is None or int(match[1]) >= f.size:
                self._error(served, 416, None, "Requested Range Not Satisfiable")
                return
            start = int(match[1])
            end = min(int(match[2]), f.size - 1) if match[2] else f.size - 1
            status = 206
        headers = {
            "Content-Type": "application/octet-stream",
            "ETag": f'"{f.etag}"',
            "X-Repo-Commit": repo.commit,
            "Accept-Ranges": "bytes",
            "Content-Length": str(f.size if head else end - start + 1),
        }
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{f.size}"
        self._start(served, status, headers)
        if not head:
            self._stream(served, repo.repo_id, name, f, start, end)

    def _stream(self, served: Served, repo_id: str, name: str, f: FakeFile,
                start: int, end: int) -> None:
        fault = self.fake_hub._faults.get((repo_id, name))
        cut = end + 1
        if fault is not None and fault.times > 0 and start <= fault.offset <= end:
            cut = fault.offset
        position = start
        with open(f.source, "rb") as src:
            src.seek(start)
            for chunk in _chunks(src, cut - start):
                self.wfile.write(chunk)
                position += len(chunk)
                served.body_bytes += len(chunk)
        if cut == end + 1:
            return
        assert fault is not None
        self.wfile.flush()
        if fault.release is not None:
            fault.release.wait(timeout=60)
            if not fault.release.is_set() or fault.times <= 0:
                self._drop()
                return
            # released: finish the body as if nothing happened
            with open(f.source, "rb") as src:
                src.seek(position)
                for chunk in _chunks(src, end + 1 - position):
                    self.wfile.write(chunk)
                    served.body_bytes += len(chunk)
            return
        fault.times -= 1
        self._drop()

    # -- helpers ------------------------------------------------------------------------------
    def _drop(self) -> None:
        """Close the socket mid-body, as a flaky network would."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _start(self, served: Served, status: int, headers: dict[str, str]) -> None:
        served.status = status
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

    def _send(self, served: Served, status: int, headers: dict[str, str], body: bytes) -> None:
        self._start(served, status, {**headers, "Content-Length": str(len(body))})
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, served: Served, status: int, code: str | None, message: str) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(served, status, headers, json.dumps({"error": message}).encode())


def _chunks(src, count: int) -> Iterator[bytes]:
    while count > 0:
        chunk = src.read(min(_CHUNK, count))
        if not chunk:
            return
        count -= len(chunk)
        yield chunk
