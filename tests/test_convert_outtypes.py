"""Every --outtype on the tiny checkpoint: right tensor types, loads in llama.cpp, generates."""

from __future__ import annotations

import pytest
from model_fixtures import greedy_generate, read_gguf
from starling_convert.outtypes import OUTTYPES

PROMPT = [1, 420, 6316, 28781, 3198, 3123, 1247, 28747, 22557, 32000, 420, 6316, 28781, 3198,
          3123, 21631, 28747]  # the model card's first reference prompt
# The main type of 2-D weights in each output (llama.cpp picks a few tensors differently).
WEIGHT_TYPE = {"f32": "F32", "f16": "F16", "bf16": "BF16", "q8_0": "Q8_0", "q4_0": "Q4_0",
               "q4_k_s": "Q4_K", "q4_k_m": "Q4_K", "q5_k_m": "Q5_K", "q6_k": "Q6_K",
               "q3_k_m": "Q3_K", "q2_k": "Q2_K"}


def test_the_issue_outtypes_are_offered() -> None:
    required = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_s", "q4_k_m", "q5_k_m", "q6_k",
                "q3_k_m", "q2_k"}
    assert required <= set(OUTTYPES)
    assert set(WEIGHT_TYPE) == set(OUTTYPES)


@pytest.mark.slow
@pytest.mark.parametrize("outtype", list(OUTTYPES))
def test_outtype_has_expected_types_loads_and_generates(converted_gguf, outtype: str) -> None:
    path = converted_gguf(outtype)
    reader = read_gguf(path)
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert len(types) == 2 * 9 + 3
    one_d = [t.name for t in reader.tensors if len(t.shape) == 1]
    assert one_d and all(types[name] == "F32" for name in one_d)  # norms stay F32
    assert types["blk.0.attn_q.weight"] == WEIGHT_TYPE[outtype]
    assert types["blk.1.ffn_gate.weight"] == WEIGHT_TYPE[outtype]
    assert int(reader.fields["general.file_type"].parts[-1][0]) == OUTTYPES[outtype].file_type

    generated = greedy_generate(path, PROMPT, 4)
    assert len(generated) == 4
    assert all(0 <= token < 32002 for token in generated)
