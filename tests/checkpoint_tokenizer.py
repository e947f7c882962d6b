"""The tokenizer side of the test checkpoints: the real Mistral v1 sentencepiece model plus
OpenChat's added tokens and chat template, exactly as the Starling-LM-7B-beta repository ships
them (``tokenizer_config.json``, ``special_tokens_map.json``, ``added_tokens.json``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

END_OF_TURN = "<|end_of_turn|>"
PAD_0 = "<|pad_0|>"
OPENCHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ 'GPT4 Correct ' + message['role'].title()"
    " + ': ' + message['content'] + '<|end_of_turn|>'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ 'GPT4 Correct Assistant:' }}{% endif %}"
)


def mistral_tokenizer_model() -> Path:
    """The real Mistral v1 sentencepiece model shipped inside the mistral-common wheel."""
    override = os.environ.get("MISTRAL_TOKENIZER_MODEL")  # e.g. on the GPU machine (no PyPI)
    if override:
        return Path(override)
    spec = importlib.util.find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("mistral-common is not installed (pip install -e '.[test]')")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "tokenizer.model.v1"


def write_tokenizer_files(folder: Path) -> None:
    """Copy the sentencepiece model and write the OpenChat tokenizer files into ``folder``."""
    shutil.copyfile(mistral_tokenizer_model(), folder / "tokenizer.model")
    special = {
        "content": "",
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": True,
    }
    decoder = {
        str(i): {**special, "content": c}
        for i, c in [(0, "<unk>"), (1, "<s>"), (2, "</s>"), (32000, END_OF_TURN), (32001, PAD_0)]
    }
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "add_bos_token": True,
                "add_eos_token": False,
                "added_tokens_decoder": decoder,
                "additional_special_tokens": [],
                "bos_token": "<s>",
                "chat_template": OPENCHAT_TEMPLATE,
                "clean_up_tokenization_spaces": False,
                "eos_token": END_OF_TURN,
                "legacy": True,
                "model_max_length": 1000000000000000019884624838656,
                "pad_token": END_OF_TURN,
                "sp_model_kwargs": {},
                "spaces_between_special_tokens": False,
                "tokenizer_class": "LlamaTokenizer",
                "unk_token": "<unk>",
                "use_default_system_prompt": False,
            },
            indent=2,
        )
    )
    (folder / "special_tokens_map.json").write_text(
        json.dumps(
            {
                "bos_token": "<s>",
                "eos_token": END_OF_TURN,
                "pad_token": END_OF_TURN,
                "unk_token": "<unk>",
            }
        )
    )
    (folder / "added_tokens.json").write_text(json.dumps({END_OF_TURN: 32000, PAD_0: 32001}))
