"""The compute devices llama.cpp sees (CPU, CUDA0, Metal, Vulkan0…), with their memory.

llama-cpp-python does not bind ggml's device registry, but ``libllama`` links it, so the symbols
resolve through the loaded library. This is how the app reports the *real* backend a model runs
on (the GPU's name, not just "GPU") and how the GPU benchmark reads free device memory.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from starling_tui.llama.backend import llama

# enum ggml_backend_dev_type
_DEVICE_TYPES = {0: "CPU", 1: "GPU", 2: "IGPU", 3: "ACCEL"}


@dataclass(frozen=True)
class Device:
    """One ggml backend device."""

    name: str  # e.g. "CUDA0"
    description: str  # e.g. "NVIDIA H100 80GB HBM3"
    kind: str  # CPU, GPU, IGPU or ACCEL
    free_bytes: int
    total_bytes: int


def _bind(lib: ctypes.CDLL) -> None:
    lib.ggml_backend_dev_count.restype = ctypes.c_size_t
    lib.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    lib.ggml_backend_dev_get.restype = ctypes.c_void_p
    for fn in (lib.ggml_backend_dev_name, lib.ggml_backend_dev_description):
        fn.argtypes = [ctypes.c_void_p]
        fn.restype = ctypes.c_char_p
    lib.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_dev_type.restype = ctypes.c_int
    lib.ggml_backend_dev_memory.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.POINTER(ctypes.c_size_t),
    ]
    lib.ggml_backend_dev_memory.restype = None


def list_devices() -> list[Device]:
    """Every device llama.cpp registered, in registry order (GPUs before the CPU)."""
    lib = llama().llama_cpp._lib
    _bind(lib)
    devices = []
    for i in range(lib.ggml_backend_dev_count()):
        dev = lib.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        devices.append(
            Device(
                name=(lib.ggml_backend_dev_name(dev) or b"").decode(errors="replace"),
                description=(lib.ggml_backend_dev_description(dev) or b"").decode(errors="replace"),
                kind=_DEVICE_TYPES.get(lib.ggml_backend_dev_type(dev), "?"),
                free_bytes=free.value,
                total_bytes=total.value,
            )
        )
    return devices


def gpu_devices() -> list[Device]:
    """The devices that can take offloaded layers."""
    return [d for d in list_devices() if d.kind in {"GPU", "IGPU"}]


def backend_label(n_gpu_layers: int) -> str:
    """What the status line shows: e.g. ``CUDA0 (NVIDIA H100 80GB HBM3)`` or ``CPU``."""
    gpus = gpu_devices() if n_gpu_layers else []
    if not gpus:
        return "CPU"
    return ", ".join(f"{d.name} ({d.description})" for d in gpus)


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads counted once), like llama.cpp.

    Decoding is memory-bound: one thread per physical core is llama.cpp's own default, and
    "half the CPUs" (llama-cpp-python's) leaves half the cores idle on machines without SMT, and
    decoding slows accordingly (measured on the GPU host: benchmarks/README.md, GPU).
    """
    import os

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cores = set()
    for cpu in cpus:
        topo = f"/sys/devices/system/cpu/cpu{cpu}/topology"
        try:
            with open(f"{topo}/physical_package_id") as pkg, open(f"{topo}/core_id") as core:
                cores.add((pkg.read().strip(), core.read().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))
    return len(cores) or os.cpu_count() or 1
