"""The imatrix GGUF: our writer and reader against each other and against ggml's own C code.

llama-quantize reads an imatrix with ggml's ``gguf_init_from_file`` and llama-imatrix writes
one with ``gguf_init_empty``/``gguf_add_tensor``/``gguf_write_to_file``; both are called here
through ctypes (the same library llama.cpp links), so "llama.cpp reads ours" and "we read
llama.cpp's" are checked against the real implementation, not against our own reading of it.
"""

from __future__ import annotations

import ctypes
import struct
from pathlib import Path

import numpy as np
import pytest

from starling_tui.llama import ggml_tensor as gt
from starling_tui.quality.errors import QualityError
from starling_tui.quality.imatrix_file import (
    ImatrixData,
    ImatrixEntry,
    check_against_model,
    read_imatrix,
    write_imatrix,
)

c_p, c_s = ctypes.c_void_p, ctypes.c_char_p


class GgmlInitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", c_p), ("no_alloc", ctypes.c_bool)]


class GgufInitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.POINTER(c_p))]


def ggml() -> ctypes.CDLL:
    lib = gt.ggml_base()
    signatures = {
        "ggml_init": ([GgmlInitParams], c_p), "ggml_free": ([c_p], None),
        "ggml_new_tensor_2d": ([c_p, ctypes.c_int, ctypes.c_int64, ctypes.c_int64], c_p),
        "ggml_set_name": ([c_p, c_s], c_p), "ggml_get_tensor": ([c_p, c_s], c_p),
        "gguf_init_empty": ([], c_p), "gguf_free": ([c_p], None),
        "gguf_init_from_file": ([c_s, GgufInitParams], c_p),
        "gguf_set_val_str": ([c_p, c_s, c_s], None),
        "gguf_set_arr_str": ([c_p, c_s, ctypes.POINTER(c_s), ctypes.c_size_t], None),
        "gguf_set_val_u32": ([c_p, c_s, ctypes.c_uint32], None),
        "gguf_add_tensor": ([c_p, c_p], None),
        "gguf_write_to_file": ([c_p, c_s, ctypes.c_bool], ctypes.c_bool),
        "gguf_find_key": ([c_p, c_s], ctypes.c_int64),
        "gguf_get_val_str": ([c_p, ctypes.c_int64], c_s),
        "gguf_get_val_u32": ([c_p, ctypes.c_int64], ctypes.c_uint32),
        "gguf_get_arr_n": ([c_p, ctypes.c_int64], ctypes.c_size_t),
        "gguf_get_arr_str": ([c_p, ctypes.c_int64, ctypes.c_size_t], c_s),
        "gguf_get_n_tensors": ([c_p], ctypes.c_int64),
        "gguf_get_tensor_name": ([c_p, ctypes.c_int64], c_s),
        "gguf_get_tensor_type": ([c_p, ctypes.c_int64], ctypes.c_int),
    }
    for name, (args, result) in signatures.items():
        getattr(lib, name).argtypes, getattr(lib, name).restype = args, result
    return lib


def sample() -> ImatrixData:
    rng = np.random.default_rng(7)
    entries = {
        "blk.0.attn_q.weight": ImatrixEntry(rng.random((1, 256)) * 50, np.array([1024.0])),
        "blk.0.ffn_down.weight": ImatrixEntry(rng.random((1, 512)) * 9, np.array([1024.0])),
    }
    return ImatrixData(entries, ["calibration.txt"], chunk_count=2, chunk_size=512)


def ggml_read(path: Path) -> tuple[dict[str, object], dict[str, tuple[list[int], np.ndarray]]]:
    """Keys and F32 tensors of a GGUF, as llama-quantize's loader sees them."""
    lib = ggml()
    data_ctx = c_p()
    params = GgufInitParams(False, ctypes.pointer(data_ctx))
    ctx = lib.gguf_init_from_file(str(path).encode(), params)
    assert ctx, "ggml could not read the file"
    try:
        keys: dict[str, object] = {}
        for key in ("general.type",):
            keys[key] = lib.gguf_get_val_str(ctx, lib.gguf_find_key(ctx, key.encode())).decode()
        for key in ("imatrix.chunk_count", "imatrix.chunk_size"):
            keys[key] = lib.gguf_get_val_u32(ctx, lib.gguf_find_key(ctx, key.encode()))
        found = lib.gguf_find_key(ctx, b"imatrix.datasets")
        keys["imatrix.datasets"] = [lib.gguf_get_arr_str(ctx, found, i).decode()
                                    for i in range(lib.gguf_get_arr_n(ctx, found))]
        tensors = {}
        for i in range(lib.gguf_get_n_tensors(ctx)):
            name = lib.gguf_get_tensor_name(ctx, i)
            assert lib.gguf_get_tensor_type(ctx, i) == gt.GGML_TYPE_F32
            tensor = gt.tensor_at(lib.ggml_get_tensor(data_ctx, name))
            tensors[name.decode()] = ([int(n) for n in tensor.ne[:2]], gt.f32_rows(tensor).ravel())
        return keys, tensors
    finally:
        lib.gguf_free(ctx)
        lib.ggml_free(data_ctx)


def ggml_write_like_llama_imatrix(path: Path, data: ImatrixData) -> None:
    """What llama-imatrix's save_imatrix does, through the same ggml calls."""
    lib = ggml()
    ctx = lib.ggml_init(GgmlInitParams(64 * 1024 * 1024, None, False))
    gguf = lib.gguf_init_empty()
    try:
        lib.gguf_set_val_str(gguf, b"general.type", b"imatrix")
        names = (c_s * len(data.datasets))(*[d.encode() for d in data.datasets])
        lib.gguf_set_arr_str(gguf, b"imatrix.datasets", names, len(data.datasets))
        lib.gguf_set_val_u32(gguf, b"imatrix.chunk_count", data.chunk_count)
        lib.gguf_set_val_u32(gguf, b"imatrix.chunk_size", data.chunk_size)
        for name, entry in data.entries.items():
            nmat, ncols = entry.sums.shape
            parts = ((".in_sum2", entry.sums, ncols), (".counts", entry.counts, 1))
            for suffix, values, ne0 in parts:
                tensor = lib.ggml_new_tensor_2d(ctx, gt.GGML_TYPE_F32, ne0, nmat)
                lib.ggml_set_name(tensor, (name + suffix).encode())
                flat = np.ascontiguousarray(values, dtype=np.float32).ravel()
                ctypes.memmove(gt.tensor_at(tensor).data, flat.ctypes.data, flat.nbytes)
                lib.gguf_add_tensor(gguf, tensor)
        assert lib.gguf_write_to_file(gguf, str(path).encode(), False)
    finally:
        lib.gguf_free(gguf)
        lib.ggml_free(ctx)


def test_ours_round_trips_with_names_shapes_and_counts(tmp_path: Path) -> None:
    data = sample()
    back = read_imatrix(write_imatrix(tmp_path / "m.imatrix.gguf", data))
    assert set(back.entries) == set(data.entries)
    for name, entry in data.entries.items():
        assert back.entries[name].sums.shape == entry.sums.shape
        np.testing.assert_allclose(back.entries[name].sums, entry.sums, rtol=1e-6)
        np.testing.assert_array_equal(back.entries[name].counts, entry.counts)
    assert (back.datasets, back.chunk_count, back.chunk_size) == (["calibration.txt"], 2, 512)
    assert [p.name for p in tmp_path.iterdir()] == ["m.imatrix.gguf"]  # no temp file left


def test_ggml_reads_ours_as_llama_quantize_does(tmp_path: Path) -> None:
    data = sample()
    keys, tensors = ggml_read(write_imatrix(tmp_path / "ours.gguf", data))
    assert keys == {"general.type": "imatrix", "imatrix.chunk_count": 2,
                    "imatrix.chunk_size": 512, "imatrix.datasets": ["calibration.txt"]}
    assert set(tensors) == {f"{n}{s}" for n in data.entries for s in (".in_sum2", ".counts")}
    ne, values = tensors["blk.0.ffn_down.weight.in_sum2"]
    assert ne == [512, 1]
    expected = data.entries["blk.0.ffn_down.weight"].sums.ravel()
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    assert tensors["blk.0.ffn_down.weight.counts"][0] == [1, 1]
    assert tensors["blk.0.ffn_down.weight.counts"][1].tolist() == [1024.0]


def test_we_read_a_file_written_as_llama_imatrix_writes_it(tmp_path: Path) -> None:
    data = sample()
    ggml_write_like_llama_imatrix(tmp_path / "theirs.gguf", data)
    back = read_imatrix(tmp_path / "theirs.gguf")
    assert set(back.entries) == set(data.entries) and back.chunk_count == 2
    means = back.importance()["blk.0.attn_q.weight"]
    np.testing.assert_allclose(means, data.entries["blk.0.attn_q.weight"].sums.ravel() / 1024,
                               rtol=1e-6)


def test_a_matrix_of_another_model_is_refused(tmp_path: Path) -> None:
    data = sample()
    weights = {"blk.0.attn_q.weight": (256, 256), "blk.0.ffn_down.weight": (256, 512)}
    check_against_model(data, weights, "m.gguf")  # fits
    with pytest.raises(QualityError, match=r"ffn_down\.weight has 512 columns there, 1024 here"):
        check_against_model(data, {**weights, "blk.0.ffn_down.weight": (256, 1024)}, "m.gguf")
    with pytest.raises(QualityError, match=r"has no matrix blk\.0\.attn_q\.weight"):
        check_against_model(data, {"blk.0.ffn_down.weight": (256, 512)}, "m.gguf")


def test_files_that_are_no_imatrix_are_refused(tmp_path: Path, starling_q4km_gguf: Path) -> None:
    with pytest.raises(QualityError, match="cannot read"):
        read_imatrix(tmp_path / "absent.gguf")
    (tmp_path / "text.gguf").write_text("not a gguf")
    with pytest.raises(QualityError, match="not an importance matrix"):
        read_imatrix(tmp_path / "text.gguf")
    (tmp_path / "cut.gguf").write_bytes(b"GGUF\x03\x00")
    with pytest.raises(QualityError, match="not a readable GGUF"):
        read_imatrix(tmp_path / "cut.gguf")
    with pytest.raises(QualityError, match="not an importance matrix"):
        read_imatrix(starling_q4km_gguf)


def legacy_bytes(data: ImatrixData) -> bytes:
    """An ``imatrix.dat`` as llama-imatrix's save_imatrix_legacy writes it."""
    out = struct.pack("<i", len(data.entries))
    for name, entry in data.entries.items():
        ncall = int(-(-entry.counts[0] // data.chunk_size))  # ceiling division, as there
        values = (entry.sums[0] / entry.counts[0] * ncall).astype("<f4")
        out += struct.pack("<i", len(name)) + name.encode() + struct.pack("<ii", ncall, values.size)
        out += values.tobytes()
    dataset = data.datasets[0].encode()
    return out + struct.pack("<ii", data.chunk_count, len(dataset)) + dataset


def test_the_older_imatrix_dat_format_gives_the_same_means(tmp_path: Path) -> None:
    data = sample()
    (tmp_path / "imatrix.dat").write_bytes(legacy_bytes(data))
    back = read_imatrix(tmp_path / "imatrix.dat")
    assert set(back.entries) == set(data.entries) and back.datasets == ["calibration.txt"]
    assert back.chunk_count == 2
    for name, means in data.importance().items():
        np.testing.assert_allclose(back.importance()[name], means, rtol=1e-6)
