"""starling-convert: Hugging Face safetensors checkpoints → verified GGUF files for llama.cpp.

The source folder is ``convert/``; it installs as the package ``starling_convert`` (a generic
top-level name like ``convert`` would clash in site-packages). Its modules import each other
relatively. The public entry point is :func:`starling_convert.api.convert_checkpoint`; the
command line lives in :mod:`starling_convert.cli` (``starling-convert`` and
``python -m starling_convert``). Heavy libraries (numpy, gguf, llama_cpp, huggingface_hub) are
imported inside functions so ``--help`` stays fast.
"""

__version__ = "0.1.0"
