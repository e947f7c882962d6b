"""starling-convert: Hugging Face safetensors checkpoints → verified GGUF files for llama.cpp.

The public entry point is :func:`convert.api.convert_checkpoint`; the command line lives in
:mod:`convert.cli` (``starling-convert`` and ``python -m convert``). Heavy libraries (numpy,
gguf, llama_cpp, huggingface_hub) are imported inside functions so ``--help`` stays fast.
"""

__version__ = "0.1.0"
