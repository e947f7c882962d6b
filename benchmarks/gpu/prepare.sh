#!/usr/bin/env bash
# Prepare what the GPU machine needs (it has CUDA, CMake, ninja, torch, numpy, jinja2 and
# sentencepiece, but no package registry): a pruned copy of the llama.cpp sources vendored in the
# llama-cpp-python sdist, the sdist's pure-Python `llama_cpp` package, and wheels of the
# pure-Python packages the engine and converter need that the machine lacks.
#
# Output: .gpu/ in the repo root (git-ignored, ~30 MB), to be carried to the GPU machine.
# Usage (repo root, on a machine with PyPI access): bash benchmarks/gpu/prepare.sh
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
version=${LLAMA_CPP_PYTHON_VERSION:-$(python -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pip download -q --no-deps --no-binary :all: -d "$work" "llama-cpp-python==$version"
tar -xzf "$work"/llama_cpp_python-"$version".tar.gz -C "$work"
src="$work/llama_cpp_python-$version"
rm -rf .gpu && mkdir -p .gpu/wheels
cp -r "$src/llama_cpp" .gpu/llama_cpp
cp -r "$src/vendor/llama.cpp" .gpu/llama.cpp
cd .gpu/llama.cpp
# What the CUDA build does not need: models and docs, the web UI and server, tests,
# examples, the Python converters and every ggml backend other than CPU and CUDA.
# KEEP_SERVER=1 keeps llama-server's sources and the web UI's (the server target depends on its
# assets target, built empty with -DLLAMA_BUILD_UI=OFF): benchmarks/gpu/speculative_gpu.sh.
server="tools/ui tools/server"
[ "${KEEP_SERVER:-0}" = 1 ] && server=
rm -rf .git models docs media $server tests examples benches pocs gguf-py \
  conversion scripts ci app skills requirements grammars licenses
if [ "${KEEP_SERVER:-0}" = 1 ]; then
  mkdir -p scripts && cp "$src/vendor/llama.cpp/scripts/ui-assets.cmake" scripts/
fi
for d in ggml/src/ggml-*/; do
  case "$d" in ggml/src/ggml-cpu/|ggml/src/ggml-cuda/) ;; *) rm -rf "$d" ;; esac
done
# CMake still references some of the removed folders; give it empty stand-ins.
mkdir -p tests examples pocs tools/server
touch tests/CMakeLists.txt examples/CMakeLists.txt pocs/CMakeLists.txt
[ -f tools/server/CMakeLists.txt ] || touch tools/server/CMakeLists.txt
cd ../..
pip download -q --no-deps --only-binary=:all: -d .gpu/wheels gguf platformdirs diskcache
cp "$(python -c 'import sys; sys.path.insert(0, "tests"); import checkpoint_tokenizer as f; print(f.mistral_tokenizer_model())')" .gpu/tokenizer.model
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
du -sh .gpu
