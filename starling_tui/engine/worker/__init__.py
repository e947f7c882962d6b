"""The worker side of the llama.cpp engine, run in the child process: llama.cpp loading,
the session (context, KV cache, sampling) and the request loop.
"""
