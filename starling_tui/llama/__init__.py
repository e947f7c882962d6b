"""The one layer that owns llama-cpp-python: nothing else in the project imports ``llama_cpp``.

- :mod:`.backend`: importing llama.cpp once (native log kept, not printed), the AMX-safe model
  parameters and :func:`~.backend.load_model`, through which every model load goes.
- :mod:`.devices`: the compute devices llama.cpp sees, physical cores.
- :mod:`.vocab`: a loaded model's token tables.
- :mod:`.kv_state`: the saved KV-state file format.
- :mod:`.ggml_tensor`: the ctypes mirror of ``struct ggml_tensor`` for the eval callback.

Below the engine, ``quality``, ``convert`` and the ``cache`` command; above only the root
modules and ``config``. ``llama_cpp`` itself is imported lazily, never at import time.
"""
