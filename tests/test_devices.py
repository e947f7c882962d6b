"""The device registry read through libllama: what the status line's backend label is built from."""

from __future__ import annotations

from starling_tui.llama import devices
from starling_tui.llama.backend import gpu_offload_supported


def test_cpu_device_is_listed_with_its_memory() -> None:
    cpus = [d for d in devices.list_devices() if d.kind == "CPU"]
    assert cpus, "llama.cpp always registers a CPU device"
    assert cpus[0].total_bytes > 0
    assert cpus[0].name


def test_backend_label_matches_what_the_build_can_offload() -> None:
    assert devices.backend_label(0) == "CPU"
    label = devices.backend_label(99)
    if gpu_offload_supported():
        assert label != "CPU" and "(" in label
    else:
        assert label == "CPU"
        assert devices.gpu_devices() == []
