"""``starling-convert --imatrix / --quality``: llama.cpp really quantizes with our importance
matrix, the IQ types need one, bad combinations and other models' matrices are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from model_fixtures import leftovers
from starling_convert.cli import main
from starling_convert.quantize import quantize_file

from starling_tui.quality.imatrix_collect import collect_imatrix
from starling_tui.quality.imatrix_file import (
    ImatrixData,
    ImatrixEntry,
    read_imatrix,
    write_imatrix,
)
from starling_tui.quality.text import default_text


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("calib") / "calibration.txt"
    path.write_text(default_text()[:12_000], encoding="utf-8")  # about 3,000 tokens: 2 chunks
    return path


@pytest.fixture(scope="module")
def tiny_imatrix(starling_f16_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = collect_imatrix(starling_f16_gguf, default_text()[:20_000], dataset="sample",
                           n_ctx=256, max_chunks=2)
    return write_imatrix(tmp_path_factory.mktemp("imatrix") / "tiny.imatrix.gguf", data)


def convert(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = main([*args])
    return status, capsys.readouterr().err


@pytest.mark.slow
def test_iq4_xs_from_a_text_uses_the_matrix_and_reports_quality(
        capsys, tiny_checkpoint: Path, calibration: Path, tmp_path: Path) -> None:
    import gguf

    out, matrix, report = tmp_path / "m.gguf", tmp_path / "m.imatrix", tmp_path / "r.json"
    status, err = convert(capsys, str(tiny_checkpoint), "--outtype", "iq4_xs", "--outfile",
                          str(out), "--imatrix", str(calibration), "--imatrix-out", str(matrix),
                          "--quality", "--report", str(report))
    assert status == 0, err
    assert "llama.cpp quantized with the importance matrix (14 entries)" in err
    assert "quality vs 16-bit: PPL ratio" in err and "top-1 agreement" in err
    reader = gguf.GGUFReader(out)
    assert reader.fields["quantize.imatrix.entries_count"].contents() == 14
    assert reader.fields["quantize.imatrix.dataset"].contents() == "calibration.txt"
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert types["blk.0.ffn_gate.weight"] == "IQ4_XS"
    saved = read_imatrix(matrix)
    assert len(saved.entries) == 14 and saved.chunk_size == 512 and saved.chunk_count >= 2
    figures = json.loads(report.read_text())
    assert figures["imatrix_entries"] == 14 and figures["chunks"] == 4
    assert {"ppl", "ppl_ratio", "kld_mean", "kld_p99", "kld_max", "same_top1"} <= set(figures)
    assert figures["kld_mean"] > 0 and 0 < figures["same_top1"] <= 1
    assert sorted(leftovers(tmp_path)) == ["m.gguf", "m.imatrix", "r.json"]


@pytest.mark.slow
def test_the_matrix_changes_what_llama_cpp_writes(starling_f16_gguf: Path, tiny_imatrix: Path,
                                                  tmp_path: Path) -> None:
    import gguf

    plain, weighted = tmp_path / "plain.gguf", tmp_path / "weighted.gguf"
    assert quantize_file(starling_f16_gguf, plain, "LLAMA_FTYPE_MOSTLY_Q3_K_M") is None
    used = quantize_file(starling_f16_gguf, weighted, "LLAMA_FTYPE_MOSTLY_Q3_K_M",
                         imatrix=tiny_imatrix)
    assert used == 14
    tensors = [{t.name: t for t in gguf.GGUFReader(p).tensors} for p in (plain, weighted)]
    name = "blk.0.ffn_down.weight"
    assert tensors[0][name].tensor_type == tensors[1][name].tensor_type
    assert not np.array_equal(tensors[0][name].data, tensors[1][name].data)
    assert "quantize.imatrix.file" not in gguf.GGUFReader(plain).fields


def other_model_matrix(path: Path) -> Path:
    entry = ImatrixEntry(np.ones((1, 1024)), np.array([512.0]))
    return write_imatrix(path, ImatrixData({"blk.0.attn_q.weight": entry}, ["x"], 1, 512))


@pytest.mark.parametrize("case", ["iq-alone", "imatrix-f16", "report-alone", "quality-q8",
                                  "unreadable", "other-model", "out-alone"])
def test_refusals_are_one_line_before_any_work(capsys, tiny_checkpoint: Path, tmp_path: Path,
                                               case: str) -> None:
    out = tmp_path / "out" / "m.gguf"
    out.parent.mkdir()
    args = {
        "iq-alone": ["--outtype", "iq3_m"],
        "imatrix-f16": ["--outtype", "f16", "--imatrix", str(other_model_matrix(tmp_path / "i"))],
        "report-alone": ["--outtype", "q4_k_m", "--report", str(tmp_path / "r.json")],
        "quality-q8": ["--outtype", "q8_0", "--quality"],
        "unreadable": ["--outtype", "q2_k", "--imatrix", str(tmp_path / "absent.txt")],
        "other-model": ["--outtype", "q2_k", "--imatrix", str(other_model_matrix(tmp_path / "i"))],
        "out-alone": ["--outtype", "q2_k", "--imatrix-out", str(tmp_path / "o.gguf")],
    }[case]
    status, err = convert(capsys, str(tiny_checkpoint), "--outfile", str(out), *args)
    assert status == 1
    assert len(err.strip().splitlines()) == 1 and err.startswith("starling-convert: error: ")
    assert leftovers(out.parent) == []
    if case == "other-model":
        assert "is for another model" in err and "1024 columns there, 256 here" in err


@pytest.mark.slow
def test_a_calibration_text_too_short_leaves_nothing(capsys, tiny_checkpoint: Path,
                                                     tmp_path: Path) -> None:
    (tmp_path / "short.txt").write_text("Too short to calibrate anything.", encoding="utf-8")
    out = tmp_path / "out" / "m.gguf"
    out.parent.mkdir()
    status, err = convert(capsys, str(tiny_checkpoint), "--outfile", str(out), "--outtype",
                          "iq4_xs", "--imatrix", str(tmp_path / "short.txt"), "--imatrix-out",
                          str(out.parent / "m.imatrix"))
    assert status == 1 and "too short" in err.strip().splitlines()[-1]
    assert leftovers(out.parent) == []
