#!/usr/bin/env bash
# Speculative decoding on the GPU machine: llama.cpp with CUDA (and llama-server), the 7B-shaped
# Q4_K_M fully offloaded, and SmolLM2 carried over in parts.
#
# Here (PyPI): KEEP_SERVER=1 bash benchmarks/gpu/prepare.sh   (.gpu/ with llama-server's sources)
#              tar -cJf .smol/gpu.tar.xz .gpu   (7 MB: the sources compress, the model does not)
#              head -c 54000000 SmolLM2.gguf >.smol/smollm2.part00; tail -c +54000001 SmolLM2.gguf
#                >.smol/smollm2.part01   (.smol/ ignored)
# There, from the repo root, phases in order, several per call (the carry limit is 64 MiB: call 1
# carries .smol/gpu.tar.xz and part00, call 2 part01; what a call leaves outlives it while the
# machine stays warm, 30 s after each call):
#
#   tar -xJf .smol/gpu.tar.xz && bash benchmarks/gpu/speculative_gpu.sh build   # call 1
#   bash benchmarks/gpu/speculative_gpu.sh smol7b smol                          # call 2
#   bash benchmarks/gpu/speculative_gpu.sh bench server7b cpu2                  # call 3
#
#   build     libllama, llama-bench, llama-server (CUDA) and the 7B-shaped Q4_K model
#   bench     llama-bench pp/tg anchors, the cost curve, plain vs auto end to end on the 7B shape
#             (replies that repeat nothing: what `auto` costs where no draft matches; decoys:
#             phrases of its own reply cut short, where drafts fail)
#   server7b  llama-server's plain and n-gram modes on the 7B shape
#   smol7b    SmolLM2 inside the 7B shape (benchmarks/smol7b.py: a 7B's cost per token, SmolLM2's
#             own Q4_1 blocks and replies), all layers on the GPU: its cost curve, plain vs
#             auto end to end, llama-server's modes on it
#   smol      SmolLM2 end to end (real acceptance), its llama-server modes, the divergence study
#   cpu2      SmolLM2 end to end and llama-server on two cores of the host, GPU hidden
#
# Every phase first copies the .smol parts it finds to $GPU_WORK (they outlive a call while the
# machine stays warm). Results go to $OUT/<phase>/ (the device tool brings them back).
# The cpu2 phase runs on two cores of the GPU host (CPUs 2 and 3, GPU hidden): a quiet 2-core box.
set -euo pipefail
cd "$(dirname "$0")/../.."
. benchmarks/gpu/env.sh
mkdir -p "$work/smol"
model7b=$work/starling-7b-Q4_K_M.gguf
smol=$work/SmolLM2-135M-Instruct.Q4_1.gguf
smol7b=$work/smollm2-in-7b-shape.gguf
threads=$(nproc)
[ -d .smol ] && cp .smol/smollm2.part* "$work/smol/" 2>/dev/null || true
ls "$work/smol" || true

assemble_smol() {  # SmolLM2 from the parts carried over
  [ -f "$smol" ] || cat "$work"/smol/smollm2.part0* >"$smol"
  sha256sum "$smol"
}

cpu2() {  # a command on CPUs 2 and 3 with the GPU hidden
  CUDA_VISIBLE_DEVICES="" taskset -c 2,3 "$@"
}

run_phase() {
phase=$1
out=${OUT:-$work/out}/$phase  # under $OUT: what a phase wrote comes back even if a call times out
mkdir -p "$out"
case "$phase" in
build)
  cmake -S .gpu/llama.cpp -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_APP=OFF ${CMAKE_EXTRA:-} >"$out/cmake.log" 2>&1 \
    || { tail -30 "$out/cmake.log"; exit 1; }
  # where time is short: TARGETS=llama (the engine needs libllama alone) and
  # CMAKE_EXTRA=-DGGML_CUDA_FA=OFF (no flash-attention kernels: a shorter build)
  # shellcheck disable=SC2086
  time cmake --build "$build" --target ${TARGETS:-llama llama-bench llama-server} -j "$threads" \
    >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
  python3 -m pip install -q --no-index --no-deps --target "$work/site" .gpu/wheels/*.whl
  cp -r .gpu/llama_cpp "$work/site/"  # later calls need not carry .gpu
  # .gpu/llama_cpp is the sdist's package, not installed: give it the metadata the engine's
  # version check reads (starling_tui/llama/version.py)
  version=$(python3 -c "import re; print(re.search(r'__version__ = \"(.+)\"', \
    open('.gpu/llama_cpp/__init__.py').read())[1])")
  mkdir -p "$work/site/llama_cpp_python-$version.dist-info"
  printf 'Metadata-Version: 2.1\nName: llama-cpp-python\nVersion: %s\n' "$version" \
    >"$work/site/llama_cpp_python-$version.dist-info/METADATA"
  python3 - "$model7b" <<'PY'
import sys, time
sys.path.insert(0, "benchmarks")
from resume_bench import make_7b
t = time.perf_counter()
make_7b(__import__("pathlib").Path(sys.argv[1]), talks=True)
print(f"7B-shaped Q4_K: {time.perf_counter() - t:.0f} s")
PY
  python3 -c "from starling_tui.llama import devices; print(devices.list_devices())"
  ;;
bench)
  nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/nvidia-smi.txt"
  # the talking 7B's first greedy steps on the GPU and on the CPU: its replies must go on
  # (on an H100 the GPU probe died with SIGSEGV before printing: it must not stop the phase;
  # its stages go to stderr, kept with the rest, so the last one names where it died)
  python3 benchmarks/gpu/talk_probe.py "$model7b" --layers 99 2>&1 | tee "$out/talk_probe.txt" \
    || echo "talk_probe on the GPU: exit status $?" | tee -a "$out/talk_probe.txt"
  python3 benchmarks/gpu/talk_probe.py "$model7b" --layers 0 --threads "$threads" 2>&1 \
    | tee -a "$out/talk_probe.txt" || echo "talk_probe on the CPU: exit status $?"
  # the issue's anchors: one-token decode (tg) and batches of 2..32 tokens (pp-k)
  "$build/bin/llama-bench" -m "$model7b" -ngl 99 -p 2,4,8,16,32 -n 128 -r 3 -o md \
    | tee "$out/llama-bench.md"
  python3 benchmarks/speculative_bench.py curve --model "$model7b" --n-gpu-layers 99 \
    --threads "$threads" --history 512 --rounds 30 --device "$(nvidia-smi --query-gpu=name \
    --format=csv,noheader | head -1)" --out "$out/curve_7b.json" | tee "$out/curve_7b.md"
  python3 benchmarks/speculative_bench.py e2e --model "$model7b" --n-gpu-layers 99 \
    --threads "$threads" --rounds 3 --tokens 128 --decoys --out "$out/e2e_7b.json" \
    | tee "$out/e2e_7b.md"
  ;;
server7b)
  python3 benchmarks/speculative_bench.py server --server "$build/bin/llama-server" \
    --model "$model7b" --n-gpu-layers 99 --threads "$threads" --rounds 2 --tokens 128 \
    --out "$out/server_7b.json" | tee "$out/server_7b.md"
  ;;
smol7b)
  assemble_smol | tee "$out/smol_sha256.txt"
  [ -f "$smol7b" ] || python3 benchmarks/smol7b.py "$smol7b" --source "$smol" --work "$work" \
    | tee "$out/smol7b_build.txt"
  python3 benchmarks/speculative_bench.py curve --model "$smol7b" --n-gpu-layers 99 \
    --threads "$threads" --history 512 --rounds 30 --device "$(nvidia-smi --query-gpu=name \
    --format=csv,noheader | head -1)" --out "$out/curve_smol7b.json" | tee "$out/curve_smol7b.md"
  python3 benchmarks/speculative_bench.py e2e --model "$smol7b" --n-gpu-layers 99 \
    --threads "$threads" --rounds 3 --out "$out/e2e_smol7b.json" | tee "$out/e2e_smol7b.md"
  python3 benchmarks/speculative_bench.py server --server "$build/bin/llama-server" \
    --model "$smol7b" --n-gpu-layers 99 --threads "$threads" --rounds 2 \
    --out "$out/server_smol7b.json" | tee "$out/server_smol7b.md"
  ;;
smol)
  assemble_smol | tee "$out/smol_sha256.txt"
  python3 benchmarks/speculative_bench.py e2e --model "$smol" --n-gpu-layers 99 \
    --threads "$threads" --rounds 3 --out "$out/e2e_smol.json" | tee "$out/e2e_smol.md"
  python3 benchmarks/speculative_bench.py server --server "$build/bin/llama-server" \
    --model "$smol" --n-gpu-layers 99 --threads "$threads" --rounds 2 \
    --out "$out/server_smol.json" | tee "$out/server_smol.md"
  python3 benchmarks/speculative_bench.py diverge --model "$smol" --n-gpu-layers 99 \
    --threads "$threads" --out "$out/diverge_smol.json" 2>"$out/diverge_smol.log" \
    | tee "$out/diverge_smol.md"
  ;;
cpu2)
  # the 2-core rows on a quiet host: SmolLM2 end to end and llama-server's modes
  assemble_smol >/dev/null
  cpu2 python3 benchmarks/speculative_bench.py e2e --model "$smol" --threads 2 --rounds 3 \
    --out "$out/e2e_smol_cpu2.json" | tee "$out/e2e_smol_cpu2.md"
  cpu2 python3 benchmarks/speculative_bench.py server --server "$build/bin/llama-server" \
    --model "$smol" --threads 2 --rounds 2 --out "$out/server_smol_cpu2.json" \
    | tee "$out/server_smol_cpu2.md"
  ;;
*)
  echo "usage: $0 build|bench|server7b|smol7b|smol|cpu2 ..." >&2
  exit 2
  ;;
esac
}

for phase in "$@"; do
  run_phase "$phase"
done
