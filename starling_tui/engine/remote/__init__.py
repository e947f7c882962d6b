"""A remote engine: an OpenAI-compatible server's ``/v1/completions`` (``--engine URL``).

Pieces: :mod:`.endpoint` (the URL), :mod:`.credentials` (which API key, and where it may go),
:mod:`.transport` (stdlib HTTP, failures as one line), :mod:`.probe` (what the server
supports), :mod:`.prompts` (exact prompts, from the server's tokenizer — :mod:`.server_vocab`,
cached by :mod:`.probe_cache` — or a local GGUF's vocabulary), :mod:`.text_guard` and
:mod:`.vocab_file` (control-token strings on text-only servers), :mod:`.request_body`,
:mod:`.stream` (server-sent events, the loop guard on them) and :mod:`.engine`
(:class:`RemoteEngine`).
"""
