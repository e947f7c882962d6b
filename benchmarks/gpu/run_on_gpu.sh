#!/usr/bin/env bash
# Build llama.cpp with CUDA on the GPU machine and measure the app's GPU offload there.
#
# The GPU machine has CUDA, CMake, ninja, torch, numpy, jinja2 and sentencepiece but no package
# registry: first run `bash benchmarks/gpu/prepare.sh` on a machine with PyPI access; it fills
# .gpu/ (pruned llama.cpp sources, the pure-Python llama_cpp package, wheels), which travels with
# the repo. Then, on the GPU machine, from the repo root, one phase per call:
#
#   bash benchmarks/gpu/run_on_gpu.sh build   # ~4 min on 16 cores: libllama + llama-bench
#   bash benchmarks/gpu/run_on_gpu.sh model   # 7B-shaped bf16 checkpoint → starling-convert q4_k_m
#   bash benchmarks/gpu/run_on_gpu.sh bench   # llama-bench anchor + the engine at 0/16/all layers,
#                                             # and engine_bench (engine vs bare loop) on the GPU
#
# Builds and models live under $GPU_WORK (default $HOME/starling-gpu), outside the repo.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${GPU_WORK:-$HOME/starling-gpu}
build=$work/llama-build
mkdir -p "$work"
export PYTHONPATH=$work/site:$PWD/.gpu:$PWD
export LLAMA_CPP_LIB_PATH=$build/bin
export PYTHONUNBUFFERED=1
export MISTRAL_TOKENIZER_MODEL=$PWD/.gpu/tokenizer.model
out=${OUT:-$work/out}
mkdir -p "$out"

case "${1:-}" in
build)
  cmake -S .gpu/llama.cpp -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF >"$out/cmake.log"
  time cmake --build "$build" --target llama llama-bench -j "$(nproc)" >"$out/build.log"
  python3 -m pip install -q --no-index --no-deps --target "$work/site" .gpu/wheels/*.whl
  python3 -c "from starling_tui.engine.worker import devices; print(devices.list_devices())"
  ;;
model)
  ckpt=$work/ckpt
  python3 - "$ckpt" <<'PY'
import sys, pathlib
sys.path.insert(0, "tests")
from checkpoint_factory import CheckpointSpec, SEVEN_B, write_checkpoint
write_checkpoint(pathlib.Path(sys.argv[1]), CheckpointSpec(shape=SEVEN_B, shard_bytes=5 * 10**9, fast_fill=True))
PY
  time python3 -m convert "$ckpt" --outtype q4_k_m --outfile "$work/starling-7b-Q4_K_M.gguf"
  rm -rf "$ckpt"
  ls -la "$work"
  ;;
bench)
  model=$work/starling-7b-Q4_K_M.gguf
  nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv | tee "$out/nvidia-smi.txt"
  for ngl in 99 16 0; do
    "$build/bin/llama-bench" -m "$model" -ngl "$ngl" -p 512 -n 128 -r 3 -o md
  done | tee "$out/llama-bench.md"
  python3 benchmarks/gpu/gpu_bench.py "$model" --json "$out/gpu_bench.json" | tee "$out/gpu_bench.md"
  # the engine against a bare llama-cpp-python loop, fully offloaded, same threads
  python3 benchmarks/engine_bench.py --model "$model" --n-gpu-layers 99 --threads "$(nproc)" \
    --tokens 128 --rounds 3 | tee "$out/engine_bench_gpu.txt"
  ;;
*)
  echo "usage: $0 build|model|bench" >&2
  exit 2
  ;;
esac
