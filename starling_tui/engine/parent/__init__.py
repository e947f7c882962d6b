"""The parent side of the llama.cpp engine: the child process, its pipe, the model-file check.

Nothing here imports llama_cpp: a crash in llama.cpp kills only the child.
"""
