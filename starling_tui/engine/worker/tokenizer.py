"""The prompt builders' tokenizer for the model loaded in the worker.

:class:`~starling_tui.llama.vocab.LlamaVocab` knows llama.cpp's token tables; the prompt
builders take a :class:`~starling_tui.prompt.parts.PromptTokenizer` of injected callables
(they never import llama.cpp). This is where one becomes the other.
"""

from __future__ import annotations

from starling_tui.llama.vocab import LlamaVocab
from starling_tui.prompt.parts import PromptTokenizer


def prompt_tokenizer(vocab: LlamaVocab) -> PromptTokenizer:
    """The injected-callables tokenizer the prompt builders use, for ``vocab``'s model."""
    model = vocab.model
    bos = int(model.token_bos())
    eos = int(model.token_eos())
    eot = vocab.eot_id()
    return PromptTokenizer(
        encode=vocab.encode,
        bos_id=bos,
        eot_id=eot,
        bos_text=vocab.token_text(bos) if bos >= 0 else "",
        eot_text=vocab.token_text(eot),
        eos_text=vocab.token_text(eos) if eos >= 0 else "",
        add_bos=bool(model.add_bos_token()) and bos >= 0,
        special_ids=vocab.special_ids,
    )
