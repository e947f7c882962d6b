"""Make ``llama_cpp.Llama`` load models AMX-safely (tests that run llama-cpp-python's own code).

llama-cpp-python's server and ``Llama`` class build their model parameters from
``llama_model_default_params``; this wraps it so extra buffer types follow
:func:`starling_tui.llama.backend.default_extra_bufts` (off on AMX CPUs, where
llama.cpp's AMX path crashes on quantized batches).
"""

from __future__ import annotations

from typing import Any


def patch_default_params() -> None:
    """Route ``Llama``'s default model parameters through the project's AMX-safe choice."""
    import llama_cpp.llama_cpp as lc

    from starling_tui.llama.backend import default_extra_bufts

    original = lc.llama_model_default_params
    if getattr(original, "amx_safe", False):
        return

    def amx_safe() -> Any:
        params = original()
        params.use_extra_bufts = default_extra_bufts()
        return params

    amx_safe.amx_safe = True  # type: ignore[attr-defined]
    lc.llama_model_default_params = amx_safe
