"""Unit tests of the converter's parts: types, registry, RoPE, headers, progress, kernels."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from model_fixtures import read_gguf
from starling_convert.architectures import converter_for, supported_architectures
from starling_convert.architectures.llama import rope_settings
from starling_convert.encode import permute_heads
from starling_convert.errors import ConvertError
from starling_convert.outtypes import lookup
from starling_convert.progress import Progress
from starling_convert.weights import read_header


def test_outtype_lookup_is_case_insensitive_and_errors_in_one_line() -> None:
    assert lookup("Q4_K_M").label == "Q4_K_M"
    with pytest.raises(ConvertError, match=r"unknown --outtype 'q9' \(choose from f32, "):
        lookup("q9")


def test_registry_is_keyed_on_hf_architecture() -> None:
    assert supported_architectures() == ["LlamaForCausalLM", "MistralForCausalLM"]
    assert converter_for("MistralForCausalLM") is converter_for("LlamaForCausalLM")
    assert converter_for("MistralForCausalLM").gguf_arch == "llama"
    with pytest.raises(ConvertError, match="unsupported architecture 'Phi3ForCausalLM'"):
        converter_for("Phi3ForCausalLM")


@pytest.mark.parametrize(("config", "theta", "kind"), [
    ({"rope_theta": 1e6}, 1e6, None),
    ({"rope_parameters": {"rope_type": "default", "rope_theta": 5e5}}, 5e5, None),
    ({"rope_theta": 1e4, "rope_scaling": {"type": "linear", "factor": 2.0}}, 1e4, "linear"),
    ({"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e4, "factor": 4.0}}, 1e4, "yarn"),
    ({}, 1e4, None),
])
def test_rope_settings(config: dict, theta: float, kind: str | None) -> None:
    got_theta, scaling = rope_settings(config)
    assert got_theta == theta
    assert (scaling or {}).get("rope_type") == kind


def test_permute_heads_matches_llama_cpp_formula() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4 * 8, 6)).astype(np.float32)
    expected = w.reshape(4, 2, 4, 6).swapaxes(1, 2).reshape(w.shape)
    np.testing.assert_array_equal(permute_heads(w, 8), expected)
    # whole heads permute independently, so blocks of heads give the same result
    np.testing.assert_array_equal(np.concatenate([permute_heads(w[:16], 8),
                                                  permute_heads(w[16:], 8)]), expected)


def _safetensors(path: Path, header: bytes, payload: bytes = b"") -> Path:
    path.write_bytes(struct.pack("<Q", len(header)) + header + payload)
    return path


def test_corrupt_or_truncated_headers_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConvertError, match="corrupt safetensors header"):
        read_header(_safetensors(tmp_path / "a.safetensors", b"{not json"))
    (tmp_path / "c.safetensors").write_bytes(b"\x10\x00")
    with pytest.raises(ConvertError, match="truncated"):
        read_header(tmp_path / "c.safetensors")
    entry = {"w": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}
    with pytest.raises(ConvertError, match="unsupported dtype I64"):
        read_header(_safetensors(tmp_path / "d.safetensors", json.dumps(entry).encode(), b"0" * 8))
    entry = {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    with pytest.raises(ConvertError, match="tensor w needs"):
        read_header(_safetensors(tmp_path / "e.safetensors", json.dumps(entry).encode(), b"0" * 8))


def test_progress_modes() -> None:
    plain, bar, quiet = io.StringIO(), io.StringIO(), io.StringIO()
    for stream, mode in ((plain, "plain"), (bar, "bar"), (quiet, "quiet")):
        report = Progress(mode, stream)
        report.start("writing", 1000)
        for _ in range(10):
            report.advance(100)
        report.finish()
    lines = plain.getvalue().splitlines()
    assert lines[0].startswith("writing: 10% (100 B of 1.0 kB), ETA")
    assert lines[-1].startswith("writing: 100%") and len(lines) == 10
    assert "\r" in bar.getvalue() and "[##############################] 100.0%" in bar.getvalue()
    assert quiet.getvalue() == ""


def test_progress_choose_follows_tty_and_quiet() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Progress.choose(None, False, Tty()).mode == "bar"
    assert Progress.choose(None, False, io.StringIO()).mode == "plain"
    assert Progress.choose(True, True, Tty()).mode == "quiet"


def test_ggml_kernels_match_numpy_bit_for_bit(monkeypatch) -> None:
    from starling_convert import fastpath

    if fastpath._ggml() is None:
        pytest.skip("ggml's shared libraries were not found next to llama_cpp")
    rng = np.random.default_rng(7)
    values = (rng.standard_normal(64 * 256) * 0.05).astype(np.float32)
    values[:4] = [70000.0, -1e-8, np.inf, 6.1e-5]  # overflow, subnormal, inf, f16 edge
    raw_bf16 = (values.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8)
    finite = values.clip(-1, 1)
    fast = (fastpath.bf16_to_f16(raw_bf16).copy(), fastpath.f32_to_f16(values).copy(),
            fastpath.quantize_q8_0(finite, 256).copy())
    monkeypatch.setattr(fastpath, "_ggml", lambda: None)
    slow = (fastpath.bf16_to_f16(raw_bf16).copy(), fastpath.f32_to_f16(values).copy(),
            np.asarray(fastpath.quantize_q8_0(finite, 256)).reshape(-1))
    for a, b in zip(fast, slow, strict=True):
        assert a.tobytes() == b.tobytes()


def test_tensor_info_reader_agrees_with_gguf_reader(starling_q4km_gguf: Path) -> None:
    from starling_convert.verify import read_tensor_infos

    from starling_tui.models.gguf_reader import read_gguf_header

    for path in (starling_q4km_gguf,):
        reader = read_gguf(path)
        expected = {t.name: (tuple(int(d) for d in reversed(t.shape.tolist())),
                             t.tensor_type.name) for t in reader.tensors}
        assert read_tensor_infos(path) == expected
        header = read_gguf_header(path)
        assert header.data_offset == reader.data_offset
        tokens = read_gguf_header(path, arrays={"tokenizer.ggml.tokens"}).metadata
        assert tokens["tokenizer.ggml.tokens"] == reader.fields["tokenizer.ggml.tokens"].contents()
        for key, field in reader.fields.items():
            if key.startswith("GGUF."):
                continue  # the reader's own pseudo-fields (version, counts)
            value = header.metadata[key]
            assert value is None if len(field.types) > 1 else value == field.contents(), key
