"""GGUF discovery: header facts, validation of bad files, ``--model`` name resolution."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from starling_tui.errors import ModelFileError
from starling_tui.models import inspect_model, list_models, model_files, resolve_model
from starling_tui.paths import app_paths

LFS_POINTER = (
    b"version https://git-lfs.github.com/spec/v1\n"
    b"oid sha256:4d6f1c0a4a7b3f4f0b1a7c1a2f1e1d3c5b7a9e0f1d2c3b4a5968778695a4b3c2\n"
    b"size 4368439584\n"
)
BAD_KINDS = (
    "truncated",
    "truncated_header",
    "random",
    "lfs_pointer",
    "safetensors",
    "empty",
    "gguf_magic_garbage",
)


def make_bad_model(kind: str, folder: Path, good: Path) -> Path:
    """A broken model file of the given kind, made from the good GGUF ``good``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bad-{kind}.gguf"
    if kind == "truncated":
        with good.open("rb") as handle:
            path.write_bytes(handle.read(good.stat().st_size // 2))
    elif kind == "truncated_header":
        with good.open("rb") as handle:
            path.write_bytes(handle.read(5000))
    elif kind == "random":
        path.write_bytes(os.urandom(65536))
    elif kind == "lfs_pointer":
        path.write_bytes(LFS_POINTER)
    elif kind == "safetensors":
        header = b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}'
        path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "gguf_magic_garbage":
        path.write_bytes(b"GGUF" + os.urandom(4096))
    elif kind == "not_a_model":  # a sound GGUF file that is no model: llama.cpp refuses it
        import gguf
        import numpy as np

        writer = gguf.GGUFWriter(path, "llama")
        writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    else:
        raise ValueError(kind)
    return path


def test_inspect_smollm2(smollm2_gguf: Path) -> None:
    model = inspect_model(smollm2_gguf)
    assert (model.architecture, model.quant, model.context_length) == ("llama", "Q4_1", 8192)
    assert model.template == "chat_template" and model.tensor_count == 272
    assert model.size == smollm2_gguf.stat().st_size and model.name == smollm2_gguf.stem


def test_a_sound_gguf_that_is_no_model_passes_the_header_check(
    tmp_path: Path, smollm2_gguf: Path
) -> None:
    model = inspect_model(make_bad_model("not_a_model", tmp_path, smollm2_gguf))
    assert (model.tensor_count, model.context_length, model.template) == (1, 0, "none")


def test_inspect_starling_q4km(starling_q4km_gguf: Path) -> None:
    model = inspect_model(starling_q4km_gguf)
    assert model.architecture == "llama" and model.quant == "Q4_K_M"
    assert model.template == "openchat" and model.context_length > 0


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_files_give_one_line(kind: str, tmp_path: Path, smollm2_gguf: Path) -> None:
    path = make_bad_model(kind, tmp_path, smollm2_gguf)
    expected = {
        "truncated": "is truncated: ",
        "truncated_header": "truncated or corrupt",
        "random": "not a GGUF",
        "lfs_pointer": "git-lfs pointer",
        "safetensors": "not a GGUF",
        "empty": "is empty",
        "gguf_magic_garbage": "GGUF",
    }[kind]
    with pytest.raises(ModelFileError, match=expected) as raised:
        inspect_model(path)
    assert "\n" not in str(raised.value) and str(path) in str(raised.value)


def test_missing_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        inspect_model(tmp_path / "nope.gguf")
    with pytest.raises(ModelFileError, match="is a folder"):
        inspect_model(tmp_path)


def test_list_models_reports_good_and_bad(smollm2_gguf: Path) -> None:
    folder = app_paths().models_dir
    folder.mkdir(parents=True)
    (folder / "smol.gguf").symlink_to(smollm2_gguf)
    make_bad_model("lfs_pointer", folder, smollm2_gguf)
    (folder / ".partial.gguf").write_bytes(b"x")  # temp files of a running conversion
    (folder / "notes.txt").write_text("x")
    entries = list_models()
    assert [e.path.name for e in entries] == ["bad-lfs_pointer.gguf", "smol.gguf"]
    assert entries[0].model is None and "git-lfs" in entries[0].error
    assert entries[1].model is not None and entries[1].model.quant == "Q4_1"


def touch_models(*names: str) -> Path:
    folder = app_paths().models_dir
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.gguf").write_bytes(b"GGUF")
    return folder


def test_resolution_rules(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"no model in .*starling-tui pull"):
        resolve_model(None)
    folder = touch_models("Starling-LM-7B-Q4_K_M")
    assert resolve_model(None) == folder / "Starling-LM-7B-Q4_K_M.gguf"  # the only one
    touch_models("Starling-LM-7B-Q8_0", "SmolLM2-135M")
    with pytest.raises(ModelFileError, match="several models"):
        resolve_model(None)
    assert resolve_model("smollm2-135m").name == "SmolLM2-135M.gguf"  # exact, any case
    assert resolve_model("SmolLM2-135M.gguf").name == "SmolLM2-135M.gguf"
    assert resolve_model("smol").name == "SmolLM2-135M.gguf"  # unique prefix
    assert resolve_model("q8").name == "Starling-LM-7B-Q8_0.gguf"  # unique substring
    with pytest.raises(ModelFileError, match="matches several models"):
        resolve_model("starling")
    assert resolve_model(None, default="q4_k_m").name == "Starling-LM-7B-Q4_K_M.gguf"
    with pytest.raises(ModelFileError, match=r"the default model .*'mixtral'"):
        resolve_model(None, default="mixtral")
    outside = tmp_path / "elsewhere.gguf"
    outside.write_bytes(b"GGUF")
    assert resolve_model(str(outside)) == outside
    with pytest.raises(ModelFileError, match="not found"):
        resolve_model(str(tmp_path / "missing.gguf"))
    assert [p.name for p in model_files()] == [
        "SmolLM2-135M.gguf",
        "Starling-LM-7B-Q4_K_M.gguf",
        "Starling-LM-7B-Q8_0.gguf",
    ]


def test_file_type_names_come_from_gguf_py() -> None:
    import gguf

    from starling_tui.models.file_types import file_type_name, tensor_type_name

    assert file_type_name(int(gguf.LlamaFileType.MOSTLY_Q4_K_M)) == "Q4_K_M"
    assert file_type_name(int(gguf.LlamaFileType.ALL_F32)) == "F32"
    assert file_type_name(9999) is None and tensor_type_name(9999) is None
    assert tensor_type_name(int(gguf.GGMLQuantizationType.Q8_0)) == "Q8_0"
