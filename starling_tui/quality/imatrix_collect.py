"""Collect an importance matrix the way ``llama-imatrix`` does, through llama.cpp's eval callback.

The text is cut into chunks as for perplexity (BOS first, ``n_ctx`` tokens each) and every
chunk is decoded whole. llama.cpp asks the callback, node by node, whether it wants a result;
it wants every ``MUL_MAT`` whose weight (``src[0]``) is a ``blk.*`` tensor and whose input
(``src[1]``) is F32 with at least 16 rows (llama-imatrix skips smaller batches, and so the
output head and token embeddings are left out as there). For those it receives the input
activations and adds, per input column, the squares of every row, and the number of rows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from starling_tui.llama import ggml_tensor as gt
from starling_tui.quality.errors import QualityError
from starling_tui.quality.imatrix_file import ImatrixData, ImatrixEntry
from starling_tui.quality.scoring import chunk_count, chunk_tokens

MIN_ROWS = 16  # llama-imatrix ignores matmuls over fewer activation rows


def weight_name(raw: bytes) -> str:
    """A weight's name without the ``<backend>#name#<n>`` wrapping of copied tensors."""
    name = raw.decode("utf-8", "replace")
    if "#" in name:
        name = name.split("#")[1]
    return name


class ActivationCollector:
    """The eval callback's state: sums of squared activations and counts per weight."""

    def __init__(self) -> None:
        self.sums: dict[str, np.ndarray] = {}
        self.counts: dict[str, np.ndarray] = {}
        self.error: BaseException | None = None
        self._layout_checked = False
        # llama.cpp keeps a bare pointer to this: it must live as long as the context
        self.callback = gt.eval_callback(self._on_tensor)

    def _on_tensor(self, address: int, ask: bool, _user_data: Any) -> bool:
        try:  # an exception must never unwind into C; keep it and stop this graph instead
            return self._wants(address) if ask else self._collect(address)
        except BaseException as exc:
            self.error = exc
            return False

    def _wants(self, address: int) -> bool:
        if not self._layout_checked:
            gt.check_layout(address)
            self._layout_checked = True
        if gt.op_name(address) != "MUL_MAT":
            return False
        tensor = gt.tensor_at(address)
        weight, inputs = tensor.src[0].contents, tensor.src[1].contents
        if inputs.ne[1] < MIN_ROWS or inputs.type != gt.GGML_TYPE_F32:
            return False
        return weight_name(weight.name).startswith("blk.")

    def _collect(self, address: int) -> bool:
        tensor = gt.tensor_at(address)
        weight, inputs = tensor.src[0].contents, tensor.src[1].contents
        name = weight_name(weight.name)
        mats2, mats3 = int(weight.ne[2]), int(weight.ne[3])
        rows = gt.f32_rows(inputs).astype(np.float64)  # (ne3, ne2, ne1, ne0)
        sums = self.sums.setdefault(name, np.zeros((mats2 * mats3, rows.shape[-1])))
        counts = self.counts.setdefault(name, np.zeros(mats2 * mats3))
        if sums.shape[-1] != rows.shape[-1]:
            raise RuntimeError(f"{name}: inputs of width {rows.shape[-1]}, then {sums.shape[-1]}")
        for i3 in range(rows.shape[0]):
            for i2 in range(rows.shape[1]):
                matrix = (i3 % mats3) * mats2 + (i2 % mats2)  # llama-imatrix's broadcasting
                sums[matrix] += np.einsum("ij,ij->j", rows[i3, i2], rows[i3, i2])
        counts += rows.shape[0] * rows.shape[1] * rows.shape[2] // (mats2 * mats3)
        if not np.isfinite(sums).all():
            raise QualityError(f"the activations of {name} are not finite (a broken model?)")
        return True

    def result(self, datasets: list[str], chunks: int, chunk_size: int) -> ImatrixData:
        """What was collected, as an :class:`ImatrixData`."""
        entries = {name: ImatrixEntry(self.sums[name], self.counts[name]) for name in self.sums}
        return ImatrixData(entries, datasets, chunks, chunk_size)


def collect_imatrix(model_path: Path, text: str, *, dataset: str, n_ctx: int = 512,
                    max_chunks: int | None = None,
                    on_chunk: Callable[[int, int], None] | None = None,
                    collector: ActivationCollector | None = None) -> ImatrixData:
    """Run ``model_path`` over ``text`` and return the importance matrix it collected.

    ``dataset`` is recorded in the file (llama-imatrix records the text file's name).
    Raises :class:`QualityError` on bad input (text shorter than two chunks, bad model).
    ``collector`` replaces the default :class:`ActivationCollector` (tests pass one that fails).
    """
    from starling_tui.quality.model_run import EvalModel

    collector = collector or ActivationCollector()
    with EvalModel.open(Path(model_path), n_ctx, cb_eval=collector.callback) as model:
        tokens = model.tokenize(text)
        chunks = chunk_count(len(tokens), model.n_ctx, max_chunks)
        for index in range(chunks):
            chunk = chunk_tokens(tokens, index, model.n_ctx, model.bos)
            # every position is an output, as in llama-imatrix: otherwise llama.cpp keeps
            # only the output rows after the last layer's attention (its FFN sees 1 row)
            try:
                model.decode_chunk(chunk, 0, model.n_ctx - 1)
            except Exception:
                if collector.error is None:
                    raise
            if collector.error is not None:  # e.g. Ctrl-C landed inside the callback
                raise collector.error
            if on_chunk is not None:
                on_chunk(index + 1, chunks)
        if not collector.sums:
            raise QualityError(f"llama.cpp reported no matrix multiplications for "
                               f"{Path(model_path).name}: cannot collect an importance matrix")
        return collector.result([dataset], chunks, model.n_ctx)


