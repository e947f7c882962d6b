"""Token-level prompt building: OpenChat (Starling) and sandboxed GGUF chat templates.

A prompt is built as a list of parts — plain text (tokenized with special-token parsing off)
and special token ids (inserted as ids) — so text a user types can never become a control
token. ``openchat`` renders Starling's format, ``chat_template`` renders a model's embedded Jinja
template in a sandbox, ``fit`` drops the oldest turns when a prompt does not fit the context.
Nothing here imports llama_cpp: tokenizers are injected as callables.
"""

from starling_tui.prompt.parts import (
    Part,
    PromptTokenizer,
    SpecialToken,
    encode_parts,
    render_parts,
)

__all__ = ["Part", "PromptTokenizer", "SpecialToken", "encode_parts", "render_parts"]
