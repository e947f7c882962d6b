"""What goes into the GGUF: hyper-parameters, RoPE settings, general metadata, weight layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from checkpoint_factory import with_spec, write_checkpoint
from model_fixtures import leftovers, read_gguf, run_convert_cli
from starling_convert import __version__
from starling_convert.api import convert_checkpoint
from starling_convert.errors import ConvertError

from starling_tui.paths import app_paths


def _fields(path: Path) -> dict:
    reader = read_gguf(path)
    return {name: field.contents() for name, field in reader.fields.items()
            if not name.startswith("tokenizer.ggml.")}


def test_llama_hparams_come_from_config(starling_f16_gguf: Path) -> None:
    f = _fields(starling_f16_gguf)
    assert f["general.architecture"] == "llama"
    assert f["llama.context_length"] == 4096
    assert f["llama.embedding_length"] == 256
    assert f["llama.block_count"] == 2
    assert f["llama.feed_forward_length"] == 512
    assert f["llama.attention.head_count"] == 4
    assert f["llama.attention.head_count_kv"] == 2
    assert f["llama.rope.dimension_count"] == 64
    assert f["llama.rope.freq_base"] == pytest.approx(10000.0)
    assert f["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(1e-5)
    assert f["llama.vocab_size"] == 32002
    assert "llama.rope.scaling.type" not in f


def test_general_metadata(starling_f16_gguf: Path, tiny_checkpoint: Path) -> None:
    f = _fields(starling_f16_gguf)
    assert f["general.name"] == "tiny-starling"
    assert f["general.license"] == "apache-2.0"  # from the README front matter
    assert f["general.source.url"] == tiny_checkpoint.resolve().as_uri()
    assert f["starling.converter"] == f"starling-convert {__version__}"
    assert f["general.file_type"] == 1


def test_a_downloaded_folder_is_named_after_its_hub_repo(tmp_path: Path,
                                                          tiny_checkpoint: Path) -> None:
    out = convert_checkpoint(tiny_checkpoint, "f16", tmp_path / "m.gguf", quiet=True,
                             repo_id="ManniX-ITA/Starling-LM-7B-beta-LaserRMT-v1")
    f = _fields(out)
    assert f["general.name"] == "Starling-LM-7B-beta-LaserRMT-v1"
    assert f["general.source.repo_url"] == (
        "https://huggingface.co/ManniX-ITA/Starling-LM-7B-beta-LaserRMT-v1")
    assert "general.source.url" not in f


def _convert(tmp_path: Path, **spec_changes) -> dict:
    folder = write_checkpoint(tmp_path / "ckpt", with_spec(**spec_changes))
    return _fields(convert_checkpoint(folder, "f16", tmp_path / "m.gguf", quiet=True))


def test_rope_theta_from_transformers5_rope_parameters(tmp_path: Path) -> None:
    f = _convert(tmp_path, rope_style="rope_parameters", rope_scaling={"rope_theta": 1e6})
    assert f["llama.rope.freq_base"] == pytest.approx(1e6)
    assert "llama.rope.scaling.type" not in f


def test_linear_rope_scaling(tmp_path: Path) -> None:
    f = _convert(tmp_path, rope_scaling={"rope_type": "linear", "factor": 2.0})
    assert f["llama.rope.scaling.type"] == "linear"
    assert f["llama.rope.scaling.factor"] == pytest.approx(2.0)


def test_yarn_rope_scaling_in_rope_parameters(tmp_path: Path) -> None:
    f = _convert(tmp_path, rope_style="rope_parameters",
                 rope_scaling={"rope_type": "yarn", "factor": 4.0,
                               "original_max_position_embeddings": 1024})
    assert f["llama.rope.scaling.type"] == "yarn"
    assert f["llama.rope.scaling.factor"] == pytest.approx(4.0)
    assert f["llama.rope.scaling.original_context_length"] == 1024


def test_unsupported_rope_scaling_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConvertError, match="unsupported RoPE scaling 'llama3'"):
        _convert(tmp_path, rope_scaling={"rope_type": "llama3", "factor": 8.0})
    assert not (tmp_path / "m.gguf").exists()


def test_llama_architecture_converts(tmp_path: Path) -> None:
    f = _convert(tmp_path, architecture="LlamaForCausalLM")
    assert f["general.architecture"] == "llama"


def _hf_tensor(checkpoint: Path, name: str) -> np.ndarray:
    torch = pytest.importorskip("torch", reason="torch (the 'reference' extra) is not installed")
    from safetensors.torch import load_file

    for shard in sorted(checkpoint.glob("*.safetensors")):
        tensors = load_file(shard)
        if name in tensors:
            return tensors[name].to(torch.float32).numpy()
    raise KeyError(name)


def _llama_cpp_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    # the formula of llama.cpp's convert_hf_to_gguf.py (LlamaModel.permute)
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


@pytest.mark.parametrize(("hf", "gguf_name", "heads"), [
    ("model.layers.1.self_attn.q_proj.weight", "blk.1.attn_q.weight", 4),
    ("model.layers.1.self_attn.k_proj.weight", "blk.1.attn_k.weight", 2),
    ("model.layers.1.self_attn.v_proj.weight", "blk.1.attn_v.weight", None),
    ("model.embed_tokens.weight", "token_embd.weight", None),
])
def test_f32_weights_are_exact_with_qk_permuted(converted_gguf, tiny_checkpoint: Path, hf: str,
                                                gguf_name: str, heads: int | None) -> None:
    expected = _hf_tensor(tiny_checkpoint, hf)
    if heads:
        expected = _llama_cpp_permute(expected, heads)
    reader = read_gguf(converted_gguf("f32"))
    tensor = next(t for t in reader.tensors if t.name == gguf_name)
    np.testing.assert_array_equal(np.asarray(tensor.data).reshape(expected.shape), expected)


def test_tiny_blocks_write_identical_bytes(monkeypatch, tiny_checkpoint: Path,
                                           starling_f16_gguf: Path, tmp_path: Path) -> None:
    import starling_convert.writer

    # ~2 rows per block: every tensor, the Q/K permutation included, is split into many blocks
    monkeypatch.setattr(starling_convert.writer, "BLOCK_BYTES", 1000)
    out = convert_checkpoint(tiny_checkpoint, "f16", tmp_path / "small-blocks.gguf", quiet=True)
    assert out.read_bytes() == starling_f16_gguf.read_bytes()


def test_cli_default_output_goes_to_models_dir(tiny_checkpoint: Path) -> None:
    result = run_convert_cli(str(tiny_checkpoint), "--outtype", "q8_0")
    assert result.returncode == 0, result.stderr
    expected = app_paths().models_dir / "tiny-starling-Q8_0.gguf"
    assert result.stdout.strip() == str(expected)
    assert leftovers(app_paths().models_dir) == ["tiny-starling-Q8_0.gguf"]
    assert "writing: 100%" in result.stderr  # plain progress lines when not on a terminal


def test_cli_quiet_prints_nothing(tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = run_convert_cli(str(tiny_checkpoint), "--outtype", "bf16", "--quiet",
                             "--outfile", str(tmp_path / "m.gguf"))
    assert result.returncode == 0
    assert result.stdout == "" and result.stderr == ""
    assert leftovers(tmp_path) == ["m.gguf"]


def test_cli_dry_run_writes_nothing(tiny_checkpoint: Path) -> None:
    result = run_convert_cli(str(tiny_checkpoint), "--outtype", "q4_k_m", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run: would write" in result.stderr and "Q4_K_M" in result.stderr
    assert not app_paths().data_dir.exists()
