"""The one module that touches llama-cpp-python's private ``_internals`` wrappers.

``LlamaModel``, ``LlamaContext``, ``LlamaBatch`` and ``LlamaSampler`` own a native object each
and free it when closed (a context before its model). They are used instead of the ``Llama``
class to control every parameter, the abort callback, sampling and llama.cpp's own perf
counters. ``_internals`` is not a public API, so each wrapper is made here and nowhere else
(a release that changes one then breaks this module alone).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from starling_tui.llama.backend import llama

if TYPE_CHECKING:
    from llama_cpp import _internals


def new_model(path: str | os.PathLike[str], params: Any) -> _internals.LlamaModel:
    """A ``LlamaModel`` of the GGUF at ``path``; raises ``ValueError`` when llama.cpp refuses it.

    Load models through :func:`.backend.load_model`, which applies the AMX-safe parameters.
    """
    from llama_cpp import _internals

    llama()
    return _internals.LlamaModel(path_model=os.fspath(path), params=params, verbose=False)


def new_context(model: Any, params: Any) -> _internals.LlamaContext:
    """A ``LlamaContext`` on ``model``; raises ``ValueError`` when llama.cpp cannot create it.

    Create contexts through :func:`.context.create_context`, which says why one failed.
    """
    from llama_cpp import _internals

    return _internals.LlamaContext(model=model, params=params, verbose=False)


def new_batch(n_tokens: int) -> _internals.LlamaBatch:
    """A ``LlamaBatch`` of up to ``n_tokens`` token ids for one sequence (no embeddings)."""
    from llama_cpp import _internals

    return _internals.LlamaBatch(n_tokens=n_tokens, embd=0, n_seq_max=1, verbose=False)


def new_sampler() -> _internals.LlamaSampler:
    """An empty ``LlamaSampler`` chain (its ``add_*`` methods append llama.cpp samplers)."""
    from llama_cpp import _internals

    llama()
    return _internals.LlamaSampler()
