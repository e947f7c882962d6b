"""The one layer that owns llama-cpp-python: nothing else in the project imports ``llama_cpp``.

- :mod:`.backend`: importing llama.cpp once (its native log kept, not printed), the AMX-safe
  model parameters and :func:`~.backend.load_model`, through which every model load goes.
- :mod:`.context`: every llama.cpp context, and why llama.cpp refused one.
- :mod:`.vocab`: a loaded model's token tables and each token's text.
- :mod:`.kv_state`: the saved KV-state file format.
- :mod:`.memory`: position edits in the KV cache (context shift, Self-Extend grouping).
- :mod:`.internals`, :mod:`.ggml_tensor`: the private ``_internals`` wrappers and the ctypes
  mirror of ``struct ggml_tensor``, each used from here only.
- :mod:`.devices`: the compute devices llama.cpp sees, and physical cores.
- :mod:`.version`: the llama-cpp-python range all this is verified against.

Below the engine, ``quality``, ``convert`` and the ``cache`` command; above only the root
modules and ``config``. ``llama_cpp`` itself is imported lazily, never at import time.
"""
