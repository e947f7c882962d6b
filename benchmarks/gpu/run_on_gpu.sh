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
#   bash benchmarks/gpu/run_on_gpu.sh clone   # SmolLM2-shaped stand-in from .gpu/smollm2_clone.npz
#   bash benchmarks/gpu/run_on_gpu.sh exit    # exit statuses after CUDA use (issue 14's segfault)
#   bash benchmarks/gpu/run_on_gpu.sh threads # threads_bench.py on 2 pinned cores, GPU hidden
#   bash benchmarks/gpu/run_on_gpu.sh se      # Self-Extend and context shift checks, all on GPU
#
# TARGETS="llama" skips llama-bench in the build (the clone/exit/threads phases do not need it).
#
# Builds and models live under $GPU_WORK (default $HOME/starling-gpu), outside the repo.
set -euo pipefail
cd "$(dirname "$0")/../.."
. benchmarks/gpu/env.sh
out=${OUT:-$work/out}
mkdir -p "$out"

case "${1:-}" in
build)
  cmake -S .gpu/llama.cpp -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF >"$out/cmake.log"
  # shellcheck disable=SC2086
  time cmake --build "$build" --target ${TARGETS:-llama llama-bench} -j "$(nproc)" >"$out/build.log"
  grep -i "openmp" "$out/cmake.log" || true
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
clone)
  python3 benchmarks/gpu/model_clone.py unpack .gpu/smollm2_clone.npz "$work/smollm2-clone.gguf"
  ;;
exit)
  # the 7B model when the model phase made it (the clone's nonsense weights stop at once)
  model=${MODEL:-$work/starling-7b-Q4_K_M.gguf}
  [ -f "$model" ] || model=$work/smollm2-clone.gguf
  python3 benchmarks/gpu/exit_check.py "$model" | tee "$out/exit_check.txt"
  python3 -X faulthandler benchmarks/gpu/segv_probe.py "$model" 2>&1 | tail -3 | tee -a "$out/exit_check.txt"
  set +e
  python3 -X faulthandler benchmarks/engine_bench.py --model "$model" --n-gpu-layers 99 \
    --threads "$(nproc)" --tokens 64 --rounds 1 >"$out/engine_bench_exit.txt" 2>&1
  echo "engine_bench exit status $?" | tee -a "$out/engine_bench_exit.txt"
  set -e
  ;;
se)
  python3 benchmarks/gpu/self_extend_gpu.py 2>"$out/self_extend_gpu.log" \
    | tee "$out/self_extend_gpu.txt"
  ;;
threads)
  model=${MODEL:-$work/smollm2-clone.gguf}
  cpus=${CPUS:-2,3}
  for c in ${cpus//,/ }; do
    echo "cpu$c core $(cat /sys/devices/system/cpu/cpu$c/topology/core_id)"
  done | tee "$out/threads_cpus.txt"
  CUDA_VISIBLE_DEVICES="" python3 benchmarks/threads_bench.py --model "$model" --cpus "$cpus" \
    --rounds "${ROUNDS:-2}" | tee "$out/threads_bench.md"
  ;;
*)
  echo "usage: $0 build|model|bench|clone|exit|threads|se" >&2
  exit 2
  ;;
esac
