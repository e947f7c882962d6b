"""The fake Hub's HTTP handler: routes, Hub-style errors, ranges, redirects and faults."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from fake_hub_files import FakeFile, FakeRepo, Served

if TYPE_CHECKING:
    from fake_hub import FakeHub

_CHUNK = 64 * 1024


_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
_TREE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_CDN = re.compile(r"^/cdn/(?P<repo>[^/]+/[^/]+)/(?P<sha>[0-9a-f]{64})$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class Handler(BaseHTTPRequestHandler):
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
