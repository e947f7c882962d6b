"""Reading ``struct ggml_tensor`` from Python (ctypes), for llama.cpp's eval callback.

llama-cpp-python exposes the callback type but not the tensor struct, so the layout of
ggml.h is declared here (GGML_MAX_DIMS 4, GGML_MAX_OP_PARAMS 64 bytes, GGML_MAX_SRC 10,
GGML_MAX_NAME 64). Exported ggml functions are used wherever one exists (operation name, the
name's address), and :func:`check_layout` compares the declared layout with them on the first
tensor seen, so a llama.cpp build with another layout fails loudly instead of reading garbage.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

GGML_MAX_DIMS = 4
GGML_MAX_SRC = 10
GGML_MAX_NAME = 64
GGML_TYPE_F32 = 0


class GgmlTensor(ctypes.Structure):
    """``struct ggml_tensor`` (ggml.h) up to and including its name."""


GgmlTensor._fields_ = [
    ("type", ctypes.c_int),
    ("buffer", ctypes.c_void_p),
    ("ne", ctypes.c_int64 * GGML_MAX_DIMS),
    ("nb", ctypes.c_size_t * GGML_MAX_DIMS),
    ("op", ctypes.c_int),
    ("op_params", ctypes.c_int32 * 16),
    ("flags", ctypes.c_int32),
    ("src", ctypes.POINTER(GgmlTensor) * GGML_MAX_SRC),
    ("view_src", ctypes.POINTER(GgmlTensor)),
    ("view_offs", ctypes.c_size_t),
    ("data", ctypes.c_void_p),
    ("name", ctypes.c_char * GGML_MAX_NAME),
]


def eval_callback(on_tensor: Callable[[int, bool, Any], bool]) -> Any:
    """``on_tensor(address, ask, user_data)`` as llama.cpp's eval callback
    (``ggml_backend_sched_eval_callback``); keep the result alive as long as the context."""
    from llama_cpp import llama_cpp

    return llama_cpp.ggml_backend_sched_eval_callback(on_tensor)


@functools.cache
def ggml_base() -> Any:
    """ggml's base library (already loaded by llama_cpp), with the signatures used here."""
    from pathlib import Path

    import llama_cpp
    from llama_cpp import _ctypes_extensions

    lib = _ctypes_extensions.load_shared_library("ggml-base",
                                                 Path(llama_cpp.__file__).parent / "lib")
    lib.ggml_op_desc.argtypes = [ctypes.c_void_p]
    lib.ggml_op_desc.restype = ctypes.c_char_p
    lib.ggml_get_name.argtypes = [ctypes.c_void_p]
    lib.ggml_get_name.restype = ctypes.c_void_p
    lib.ggml_nelements.argtypes = [ctypes.c_void_p]
    lib.ggml_nelements.restype = ctypes.c_int64
    lib.ggml_backend_buffer_is_host.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_buffer_is_host.restype = ctypes.c_bool
    lib.ggml_backend_tensor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                            ctypes.c_size_t]
    lib.ggml_backend_tensor_get.restype = None
    return lib


def op_name(address: int) -> str:
    """The operation of the tensor at ``address`` ("MUL_MAT", "ADD"…)."""
    return bytes(ggml_base().ggml_op_desc(address) or b"").decode()


def tensor_at(address: int) -> GgmlTensor:
    """The tensor struct at ``address`` (a view on llama.cpp's memory, valid during the call)."""
    return GgmlTensor.from_address(address)


def check_layout(address: int) -> None:
    """Raise RuntimeError when the declared struct disagrees with this ggml build."""
    lib = ggml_base()
    tensor = tensor_at(address)
    name_at = address + GgmlTensor.name.offset
    elements = int(np.prod(list(tensor.ne)))
    if lib.ggml_get_name(address) != name_at or lib.ggml_nelements(address) != elements:
        raise RuntimeError("this llama.cpp build has another ggml_tensor layout")


def f32_rows(tensor: GgmlTensor) -> np.ndarray:
    """An F32 tensor's values as a (ne3, ne2, ne1, ne0) array (copied: safe after the call)."""
    ne = [int(n) for n in tensor.ne]
    nb = [int(n) for n in tensor.nb]
    if tensor.type != GGML_TYPE_F32 or nb[0] != 4:
        raise RuntimeError("expected F32 activations with contiguous rows")
    span = sum((n - 1) * b for n, b in zip(ne, nb, strict=True)) + 4  # ggml_nbytes
    lib = ggml_base()
    if tensor.buffer and not lib.ggml_backend_buffer_is_host(tensor.buffer):
        floats = np.empty(span // 4, dtype=np.float32)  # on a GPU: copy the bytes out first
        lib.ggml_backend_tensor_get(ctypes.addressof(tensor), floats.ctypes.data, 0, span)
    else:
        floats = np.ctypeslib.as_array((ctypes.c_float * (span // 4)).from_address(tensor.data))
    view = np.lib.stride_tricks.as_strided(floats, shape=(ne[3], ne[2], ne[1], ne[0]),
                                           strides=(nb[3], nb[2], nb[1], nb[0]), writeable=False)
    return np.array(view, dtype=np.float32)
