"""Hand an imatrix GGUF to ``llama_model_quantize`` (inside the quantizer's child process).

As ``llama-quantize --imatrix`` does: the per-column means go in a NULL-terminated array of
``llama_model_imatrix_data``, and the output records ``quantize.imatrix.file``, ``.dataset``,
``.entries_count`` and ``.chunks_count``. llama.cpp logs how many entries it took ("have
importance matrix data with N entries"); a log callback keeps that number, so the converter
can say what the quantizer itself reported rather than what was offered.
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path
from typing import Any

_ENTRIES = re.compile(r"have importance matrix data with (\d+) entries")
_logged: list[int] = []


def imatrix_entries_logged() -> int | None:
    """The entry count llama.cpp logged during quantization (None if it logged none)."""
    return _logged[-1] if _logged else None


def attach_imatrix(params: Any, path: Path) -> list[Any]:
    """Fill ``params.imatrix`` and ``params.kv_overrides`` from the imatrix GGUF at ``path``.

    Returns the ctypes buffers, which must stay alive until quantization ends.
    """
    from starling_tui.llama.backend import llama, watch_log
    from starling_tui.quality.imatrix_file import read_imatrix

    lc = llama()
    data = read_imatrix(path)
    means = data.importance()
    entries = (lc.llama_model_imatrix_data * (len(means) + 1))()
    names, arrays = [], []
    for slot, (name, values) in zip(entries, sorted(means.items()), strict=False):
        names.append(name.encode())
        arrays.append(values)
        slot.name = names[-1]
        slot.data = values.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        slot.size = values.size
    params.imatrix = entries  # the last slot stays zeroed: the terminator
    overrides = _kv_overrides(lc, {
        "quantize.imatrix.file": str(path),
        "quantize.imatrix.dataset": data.datasets[0] if data.datasets else "",
        "quantize.imatrix.entries_count": len(means),
        "quantize.imatrix.chunks_count": data.chunk_count,
    })
    params.kv_overrides = overrides
    watch_log(_keep_entry_count)
    return [entries, names, arrays, overrides]


def _kv_overrides(lc: Any, values: dict[str, str | int]) -> Any:
    array = (lc.llama_model_kv_override * (len(values) + 1))()
    for slot, (key, value) in zip(array, values.items(), strict=False):
        slot.key = key.encode()[:127]
        if isinstance(value, int):
            slot.tag = lc.LLAMA_KV_OVERRIDE_TYPE_INT
            slot.value.val_i64 = value
        else:
            slot.tag = lc.LLAMA_KV_OVERRIDE_TYPE_STR
            slot.value.val_str = value.encode()[:127]
    return array


def _keep_entry_count(line: str) -> None:
    found = _ENTRIES.search(line)
    if found:
        _logged.append(int(found.group(1)))
