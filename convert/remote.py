"""Tensor headers of a Hub checkpoint without its weights, for ``--dry-run`` of a repo id.

A dry run must not download gigabytes only to say what it would write. huggingface_hub reads
each shard's safetensors header with HTTP range requests (``parse_safetensors_file_metadata``),
so shapes and dtypes are checked exactly as for a local checkpoint. The refs returned point at
where the shards would be downloaded; they carry no readable data and are never read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starling_tui.errors import one_line
from starling_tui.pull.selection import SINGLE_FILE

from .errors import ConvertError
from .weights import (
    INDEX_FILE,
    TensorRef,
    index_tensors,
    read_weight_map,
    refs_from_header,
)

if TYPE_CHECKING:
    from huggingface_hub import HfApi


def weights_are_local(folder: Path) -> bool:
    """Whether an earlier download already put every shard in ``folder`` (then no request)."""
    index = folder / INDEX_FILE
    if index.is_file():
        return all((folder / shard).is_file() for shard in set(read_weight_map(index).values()))
    return any(folder.glob("*.safetensors"))


def remote_weights(repo_id: str, folder: Path) -> dict[str, TensorRef]:
    """Every tensor of the Hub repo's safetensors shards, read from their headers only.

    ``folder`` holds the repo's small files (config, tokenizer, shard index) already; the
    index, when there is one, is checked as for a local checkpoint.
    """
    import httpx2
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, SafetensorsParsingError

    api = HfApi()
    index = folder / INDEX_FILE
    weight_map = read_weight_map(index) if index.is_file() else None
    try:
        # no index: the selection (starling_tui.pull.selection) allows only model.safetensors
        shards = sorted(set(weight_map.values())) if weight_map else [SINGLE_FILE]
        headers = {shard: _remote_header(api, repo_id, folder / shard) for shard in shards}
    except (HfHubHTTPError, SafetensorsParsingError, OSError, httpx2.HTTPError) as exc:
        raise ConvertError(f"cannot read the weights' headers of {repo_id} from the Hugging Face "
                           f"Hub: {one_line(exc)}") from None
    if weight_map:
        return index_tensors(weight_map, headers)
    return {name: ref for refs in headers.values() for name, ref in refs.items()}


def _remote_header(api: HfApi, repo_id: str, path: Path) -> dict[str, TensorRef]:
    """One shard's tensors, from its header fetched by range request (``path``: where the
    shard would be downloaded)."""
    meta = api.parse_safetensors_file_metadata(repo_id, path.name)
    header = {name: {"dtype": info.dtype, "shape": info.shape, "data_offsets": info.data_offsets}
              for name, info in meta.tensors.items()}
    end = max((info.data_offsets[1] for info in meta.tensors.values()), default=0)
    return refs_from_header(path, header, 0, end)
