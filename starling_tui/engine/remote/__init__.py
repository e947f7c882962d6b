"""A remote engine: an OpenAI-compatible server's ``/v1/completions`` (``--engine URL``).

Pieces: :mod:`.endpoint` (the URL), :mod:`.credentials` (the API key), :mod:`.transport`
(stdlib HTTP, failures as one line), :mod:`.probe` (what the server supports),
:mod:`.prompts` (exact prompts from the local vocabulary), :mod:`.text_guard` and
:mod:`.vocab_file` (control-token strings on text-only servers), :mod:`.request_body`,
:mod:`.stream` (server-sent events) and :mod:`.engine` (:class:`RemoteEngine`).
"""
