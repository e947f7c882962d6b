"""llama.cpp's real ``llama-server``, built from the sources the installed llama-cpp-python ships.

The remote-engine tests and benchmarks talk to the real server rather than a stand-in. It is
built here, from the llama.cpp sources vendored in the llama-cpp-python sdist of the *installed*
version (so the server runs the same llama.cpp as the local engine), and cached between runs
in ``~/.cache/starling-tui-tests/llama-server-<version>/`` (``XDG_CACHE_HOME`` is honoured).
It is not a separate CI step: the session fixture that needs the server calls
:func:`llama_server`, which builds it the first time (about 5 minutes on 2 cores) and returns
the cached binary afterwards. A file lock makes a second test process wait for the first
one's build instead of building again.

How: ``pip download --no-deps --no-binary :all: llama-cpp-python==<version>`` (pip answers
from its HTTP cache when the sdist was downloaded before, as the install does), then CMake
builds only the ``llama-server`` target: CPU, Release, ``LLAMA_BUILD_SERVER=ON``, the web UI
off, ``GGML_NATIVE=ON`` as the wheel build uses by default, static libraries, ``-j2``. Any
failure raises :class:`BuildFailed` whose message ends with the build log's last lines.

As a script (the benchmarks use it too): ``python tests/llama_server_build.py`` builds if
needed and prints the binary's path.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

PACKAGE = "llama-cpp-python"
JOBS = 2
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # would fetch the web UI from the Hub at build time
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
    "-DGGML_NATIVE=ON",
    "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary to cache
)
LOG_TAIL_LINES = 40


class BuildFailed(RuntimeError):
    """llama-server could not be built; the message ends with the build log's tail."""


def installed_version() -> str:
    """The installed llama-cpp-python version (the sources built are that release's)."""
    return importlib.metadata.version(PACKAGE)


def cache_folder(version: str | None = None) -> Path:
    """Where the binary of ``version`` (default: the installed one) is cached."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "starling-tui-tests" / f"llama-server-{version or installed_version()}"


def llama_server(version: str | None = None) -> Path:
    """The path of a working ``llama-server`` for ``version``; built on first use."""
    version = version or installed_version()
    folder = cache_folder(version)
    folder.mkdir(parents=True, exist_ok=True)
    binary = folder / "llama-server"
    with _locked(folder / "build.lock"):
        if not _works(binary):
            _build(version, folder, binary)
    return binary


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (another process waits for our build)."""
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _works(binary: Path) -> bool:
    if not binary.is_file():
        return False
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _build(version: str, folder: Path, binary: Path) -> None:
    log = folder / "build.log"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=folder, prefix="work-") as tmp, \
            open(log, "w", encoding="utf-8") as sink:
        work = Path(tmp)
        sink.write(f"building llama-server from {PACKAGE}=={version}\n")
        sdist = _download(version, work, sink, log)
        source = _extract(sdist, work / "src", log)
        build = work / "build"
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        _run(["cmake", "-S", str(source), "-B", str(build), *generator, *CMAKE_OPTIONS],
             sink, log, "cmake configure")
        _run(["cmake", "--build", str(build), "--target", "llama-server", "-j", str(JOBS)],
             sink, log, "cmake build")
        built = build / "bin" / "llama-server"
        if not built.is_file():
            raise BuildFailed(_with_tail(f"the build made no {built}", log))
        staged = folder / "llama-server.partial"
        shutil.copy2(built, staged)
        staged.replace(binary)
    info = {"version": version, "cmake": list(CMAKE_OPTIONS), "jobs": JOBS,
            "seconds": round(time.monotonic() - started, 1)}
    (folder / "build-info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    if not _works(binary):
        raise BuildFailed(_with_tail(f"the built {binary} does not run", log))


def _download(version: str, work: Path, sink: IO[str], log: Path) -> Path:
    """The sdist of ``version`` (pip's HTTP cache serves it when it was fetched before)."""
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
          f"{PACKAGE}=={version}", "-d", str(work)], sink, log, "pip download")
    found = sorted(work.glob("llama_cpp_python-*.tar.gz"))
    if not found:
        raise BuildFailed(_with_tail("pip download left no llama_cpp_python sdist", log))
    return found[0]


def _extract(sdist: Path, target: Path, log: Path) -> Path:
    """Unpack the sdist; the folder of its vendored llama.cpp."""
    with tarfile.open(sdist) as archive:
        archive.extractall(target, filter="data")
    sources = list(target.glob("*/vendor/llama.cpp/CMakeLists.txt"))
    if not sources:
        raise BuildFailed(_with_tail(f"{sdist.name} vendors no llama.cpp", log))
    return sources[0].parent


def _run(command: list[str], sink: IO[str], log: Path, step: str) -> None:
    sink.write(f"$ {' '.join(command)}\n")
    sink.flush()
    try:
        done = subprocess.run(command, stdout=sink, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise BuildFailed(_with_tail(f"{step} could not start: {exc}", log)) from None
    if done.returncode != 0:
        raise BuildFailed(_with_tail(f"{step} failed (exit {done.returncode})", log))


def _with_tail(headline: str, log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    tail = "\n".join(lines[-LOG_TAIL_LINES:])
    return f"building llama-server: {headline}; last lines of {log}:\n{tail}"


if __name__ == "__main__":
    try:
        print(llama_server())
    except BuildFailed as failure:
        sys.exit(str(failure))
