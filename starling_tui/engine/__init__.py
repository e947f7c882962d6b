"""Chat engines: the interface the app and CLI talk to, and its implementations.

``base`` defines the contract (no heavy imports); ``fake`` is a scripted engine for tests and
UI benchmarks; the llama.cpp engine runs llama-cpp-python in a child process.
"""
