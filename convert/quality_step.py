"""The converter's quality options: an importance matrix for the quantizer, and a quality report.

``--imatrix CALIB``: CALIB is an imatrix GGUF (ours or llama-imatrix's) or a text; for a text
the 16-bit intermediate is run over it to collect one (as llama-imatrix does). Either way it is
checked against the model's weights before llama.cpp sees it, and saved with
``--imatrix-out``. ``--quality``: after quantizing, the result is scored against the 16-bit
intermediate on a short sample of the shipped text (perplexity ratio, mean KL divergence,
top-1 agreement); ``--report FILE.json`` keeps the figures. Every refusal is one line and comes
before any work.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConvertError

if TYPE_CHECKING:
    from starling_tui.quality.imatrix_file import ImatrixData

    from .architectures.base import PlannedTensor
    from .outtypes import OutType
    from .progress import Progress

SAMPLE_CHUNKS = 4  # --quality: 4 chunks of 512 tokens (1,020 scored tokens)
SAMPLE_CTX = 512
IMATRIX_CTX = 512  # llama-imatrix's default chunk size


@dataclass
class QualitySteps:
    """What the user asked for beyond the conversion itself (all off by default)."""

    imatrix: Path | None = None
    imatrix_out: Path | None = None
    quality: bool = False
    report: Path | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    _given: ImatrixData | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> QualitySteps:
        """The steps the command line asked for."""
        return cls(imatrix=args.imatrix, imatrix_out=args.imatrix_out, quality=args.quality,
                   report=args.report)

    def check(self, kind: OutType, plan: list[PlannedTensor]) -> None:
        """Refuse impossible combinations and unusable files (one line), before any work."""
        if kind.needs_imatrix and self.imatrix is None:
            raise ConvertError(f"--outtype {kind.name} needs an importance matrix: add "
                               "--imatrix CALIB (a text to collect one from, or an imatrix GGUF)")
        if self.imatrix is not None and kind.direct:
            raise ConvertError(f"--imatrix only applies to types llama.cpp quantizes, "
                               f"not {kind.name}")
        if self.imatrix_out is not None and self.imatrix is None:
            raise ConvertError("--imatrix-out needs --imatrix")
        if self.quality and kind.direct:
            raise ConvertError(f"--quality compares a quantization with its 16-bit "
                               f"intermediate; {kind.name} is written directly (compare two "
                               "files with 'starling-tui eval MODEL --reference BASE')")
        if self.report is not None and not self.quality:
            raise ConvertError("--report needs --quality")
        for path in (self.imatrix_out, self.report):
            if path is not None:
                _check_writable(path)
        if self.imatrix is not None:
            self._given = _read_calibration(self.imatrix, plan)

    def imatrix_for(self, intermediate: Path, plan: list[PlannedTensor], report: Progress,
                    temp: Callable[[], Path]) -> Path | None:
        """The imatrix GGUF to quantize with (collected from the intermediate for a text)."""
        if self.imatrix is None:
            return None
        from starling_tui.quality.imatrix_file import write_imatrix

        data = self._given
        if data is None:
            data = _collect(intermediate, self.imatrix, report)
            _check_fits(data, plan, str(self.imatrix))
        self._given = data  # kept for --imatrix-out, written at the very end
        path: Path = _quality_call(write_imatrix, temp(), data)
        return path

    def note_quantized(self, entries: int | None, report: Progress) -> None:
        """Say what llama.cpp reported about the importance matrix it was given."""
        if self.imatrix is not None:
            report.message(f"llama.cpp quantized with the importance matrix "
                           f"({entries if entries is not None else 'unknown number of'} "
                           "entries)")
            self.figures["imatrix_entries"] = entries

    def after_quantize(self, final: Path, intermediate: Path, target: Path,
                       report: Progress) -> None:
        """Just before ``final`` becomes ``target``: the quality check and report (with
        ``--quality``), then ``--imatrix-out`` (atomically): an interruption before this point
        leaves none of the outputs behind."""
        if self.quality:
            self._check_quality(final, intermediate, target, report)
        if self.imatrix_out is not None and self._given is not None:
            from starling_tui.quality.imatrix_file import write_imatrix

            _quality_call(write_imatrix, self.imatrix_out, self._given)  # atomic
            report.message(f"wrote the importance matrix to {self.imatrix_out}")

    def _check_quality(self, final: Path, intermediate: Path, target: Path,
                       report: Progress) -> None:
        from starling_tui.quality.evaluate import evaluate
        from starling_tui.quality.text import default_text

        bar = _chunk_bar(report, "quality check")
        try:
            result = _quality_call(evaluate, final, default_text(), n_ctx=SAMPLE_CTX,
                                   reference=intermediate, max_chunks=SAMPLE_CHUNKS,
                                   on_chunk=bar)
        finally:
            if bar is not None:
                bar.close()
        div = result.divergence
        assert div is not None
        report.message(f"quality vs 16-bit: PPL ratio {div.ppl_ratio:.4f}, mean KLD "
                       f"{div.kld_mean:.5f}, top-1 agreement {100 * div.same_top1:.1f}% "
                       f"({result.tokens} tokens)")
        self.figures.update(model=str(target), imatrix=str(self.imatrix or "") or None,
                            **result.to_json())
        if self.report is not None:
            from starling_tui.atomic import write_text

            write_text(self.report, json.dumps(self.figures, indent=2) + "\n")


def add_quality_arguments(parser: argparse.ArgumentParser) -> None:
    """``--imatrix``, ``--imatrix-out``, ``--quality`` and ``--report``."""
    parser.add_argument("--imatrix", type=Path, metavar="CALIB",
                        help="quantize with an importance matrix: a text file to collect it "
                             "from (run through the 16-bit weights) or an imatrix GGUF")
    parser.add_argument("--imatrix-out", type=Path, metavar="FILE",
                        help="also save the importance matrix (llama.cpp's imatrix GGUF)")
    parser.add_argument("--quality", action="store_true",
                        help="after quantizing, compare with the 16-bit weights on a short "
                             "sample: PPL ratio, mean KL divergence, top-1 agreement")
    parser.add_argument("--report", type=Path, metavar="FILE.json",
                        help="with --quality: save the figures as JSON")


def _check_writable(path: Path) -> None:
    folder = Path(path).expanduser().absolute().parent
    if Path(path).is_dir():
        raise ConvertError(f"{path} is a folder; give a file name")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ConvertError(f"cannot write {path}: {folder} is not a writable folder")


def _read_calibration(path: Path, plan: list[PlannedTensor]) -> ImatrixData | None:
    """An imatrix file is read and checked now; a text is checked for readability only."""
    from starling_tui.quality.imatrix_file import looks_like_imatrix, read_imatrix
    from starling_tui.quality.text import read_text

    if looks_like_imatrix(path):
        data = _quality_call(read_imatrix, path)
        _check_fits(data, plan, str(path))
        return data
    _quality_call(read_text, path)
    return None


def _check_fits(data: ImatrixData, plan: list[PlannedTensor], source: str) -> None:
    from starling_tui.quality.imatrix_file import check_against_model

    _quality_call(check_against_model, data, {t.gguf_name: t.shape for t in plan}, source)


def _collect(intermediate: Path, calibration: Path, report: Progress) -> ImatrixData:
    from starling_tui.quality.imatrix_collect import collect_imatrix
    from starling_tui.quality.text import read_text

    text = _quality_call(read_text, calibration)
    bar = _chunk_bar(report, "collecting the importance matrix")
    try:
        return _quality_call(collect_imatrix, intermediate, text, dataset=calibration.name,
                             n_ctx=IMATRIX_CTX, on_chunk=bar)
    finally:
        if bar is not None:
            bar.close()


def _chunk_bar(report: Progress, label: str) -> Any:
    """A chunk progress bar where the converter draws bars; a plain message elsewhere."""
    from starling_tui.quality.progress import ChunkProgress

    if report.mode == "bar":
        return ChunkProgress(report.stream, label)
    report.message(label)
    return None


def _quality_call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call into starling_tui.quality, turning its one-line errors into ConvertError."""
    from starling_tui.errors import UserError

    try:
        return function(*args, **kwargs)
    except UserError as exc:
        raise ConvertError(str(exc)) from None
