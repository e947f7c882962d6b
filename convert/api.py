"""``convert_checkpoint``: the whole conversion, from SRC to a verified GGUF in place.

Steps: resolve the source, read and check config/weights/tokenizer, pick the output path,
check free disk, write a GGUF (the final type, or a lossless intermediate that llama.cpp then
quantizes), verify it, and rename it durably into place (:mod:`starling_tui.atomic`). Every
file is written under a hidden temporary name next to the output and removed on any error or
Ctrl-C.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starling_tui.atomic import replace_durably, temp_path
from starling_tui.disk import existing_ancestor
from starling_tui.llama.version import UnsupportedLlamaVersion, check_version

from .errors import ConvertError
from .hooks import ConvertHooks
from .outtypes import DEFAULT_OUTTYPE, OutType, lookup
from .progress import Progress
from .quality_step import QualitySteps

DISK_MARGIN = 64 * 1024 * 1024  # headroom for the header, verification and rounding

if TYPE_CHECKING:
    from .architectures.base import ModelConverter, PlannedTensor
    from .source import Source
    from .vocab import Vocab


@dataclass
class Checkpoint:
    """A checked checkpoint: where it came from, its converter and its vocabulary."""

    source: Source
    converter: ModelConverter
    vocab: Vocab


def convert_checkpoint(source: str | Path, outtype: str = DEFAULT_OUTTYPE,
                       outfile: Path | None = None, *, progress: bool | None = None,
                       quiet: bool = False, dry_run: bool = False,
                       repo_id: str | None = None, hooks: ConvertHooks | None = None,
                       steps: QualitySteps | None = None) -> Path:
    """Convert ``source`` (folder or Hub repo id) to GGUF; return the output path.

    ``progress`` forces the progress bar on/off (default: on when stderr is a terminal);
    ``quiet`` silences all output; ``dry_run`` checks everything and writes nothing;
    ``repo_id`` names the Hub repo a local folder was downloaded from (``pull`` passes it), so
    the GGUF's name and source URL are the repo's, not the download folder's. ``hooks`` plug
    in the free-space probe and a progress observer (:mod:`convert.hooks`). ``steps`` adds
    an importance matrix and a quality report (:mod:`convert.quality_step`).
    Raises :class:`ConvertError` with a one-line message on bad input.
    """
    try:
        check_version()  # one line, before anything, unless a verified llama-cpp-python
    except UnsupportedLlamaVersion as exc:
        raise ConvertError(str(exc)) from None
    hooks = hooks or ConvertHooks()
    kind = lookup(outtype)
    report = Progress.choose(progress, quiet, observer=hooks.observer)
    checkpoint = open_checkpoint(source, quiet=quiet, repo_id=repo_id, weights=not dry_run)
    target = output_path(checkpoint, kind, outfile, create=not dry_run)
    weight_type = kind.ggml_type or intermediate_type(checkpoint)
    plan = checkpoint.converter.plan(weight_type)
    steps = steps or QualitySteps()
    steps.check(kind, plan)
    needed = sum(t.nbytes for t in plan)
    if not kind.direct:
        needed += _estimate_quantized(plan, kind)
    from starling_tui.disk import DiskSpaceError, check_free_space, human

    try:
        check_free_space({target.parent: (needed, "")}, hooks.free_space, margin=DISK_MARGIN)
    except DiskSpaceError as exc:
        raise ConvertError(str(exc)) from None
    if dry_run:
        fetch = ""
        if checkpoint.source.weights_on_hub:
            download = sum(ref.nbytes for ref in checkpoint.converter.weights.values())
            fetch = f"; would download {human(download)} of weights"
        report.message(f"dry run: would write {target} ({kind.label}, {len(plan)} tensors, "
                       f"needs about {human(needed)}{fetch})")
        return target
    _convert(checkpoint, kind, plan, target, report, steps)
    return target


def open_checkpoint(source: str | Path, *, quiet: bool = True, repo_id: str | None = None,
                    weights: bool = True) -> Checkpoint:
    """Resolve and fully check ``source``: config, architecture, weights, shapes, tokenizer.

    ``weights=False`` leaves a Hub repo's shards on the Hub and checks their headers there.
    """
    from .architectures import converter_for
    from .source import resolve_source
    from .vocab import read_json
    from .weights import find_weights

    src = resolve_source(source, quiet=quiet, weights=weights)
    if repo_id:
        src = replace(src, name=repo_id.rsplit("/", 1)[-1],
                      url=f"https://huggingface.co/{repo_id}", repo_id=repo_id)
    if not (src.folder / "config.json").is_file():
        raise ConvertError(f"no config.json in {src.folder}")
    config = read_json(src.folder / "config.json")
    architectures = config.get("architectures") or [config.get("model_type") or "unknown"]
    converter_cls = converter_for(str(architectures[0]))
    from .remote import remote_weights, weights_are_local

    if src.weights_on_hub and weights_are_local(src.folder):
        src = replace(src, weights_on_hub=False)  # an earlier download has them all
    if src.weights_on_hub and src.repo_id:
        tensors = remote_weights(src.repo_id, src.folder)
    else:
        tensors = find_weights(src.folder)
    converter = converter_cls(src.folder, config, tensors)
    converter.check_tensors()
    return Checkpoint(src, converter, converter.load_vocab())


def intermediate_type(checkpoint: Checkpoint) -> str:
    """A lossless GGUF type for the pre-quantization file: the checkpoint's own storage type."""
    dtypes = {ref.dtype for ref in checkpoint.converter.weights.values() if len(ref.shape) > 1}
    return dtypes.pop() if len(dtypes) == 1 else "F32"


def output_path(checkpoint: Checkpoint, kind: OutType, outfile: Path | None,
                *, create: bool = True) -> Path:
    """``outfile``, or ``<models dir>/<model name>-<TYPE>.gguf``; its folder must be writable.

    The default models folder is created (unless ``create`` is False, as for a dry run).
    """
    if outfile is None:
        from starling_tui.paths import app_paths

        folder = app_paths().models_dir
        if create:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConvertError(f"cannot create {folder}: {exc.strerror}") from None
        target = folder / f"{checkpoint.source.name}-{kind.label}.gguf"
        folder = existing_ancestor(folder)
    else:
        target = Path(outfile).expanduser().absolute()
        folder = target.parent
    if target.is_dir():
        raise ConvertError(f"output {target} is a folder; give a file name")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ConvertError(f"cannot write to {target.parent}: not a writable folder")
    return target


def _estimate_quantized(plan: list[PlannedTensor], kind: OutType) -> int:
    elements = sum(t.nbytes // (4 if t.ggml_type == "F32" else 2) for t in plan)
    return int(elements * kind.bits_per_weight / 8)


def _convert(checkpoint: Checkpoint, kind: OutType, plan: list[PlannedTensor], target: Path,
             report: Progress, steps: QualitySteps) -> None:
    from .metadata import add_general
    from .quantize import quantize_file
    from .verify import verify_gguf
    from .writer import write_gguf

    converter, vocab = checkpoint.converter, checkpoint.vocab
    # an intermediate is labelled with its own type; the quantizer rewrites general.file_type
    file_type = kind.file_type if kind.direct else lookup(plan_type(plan).lower()).file_type

    def add_keys(writer: Any) -> None:
        add_general(writer, checkpoint.source, file_type)
        converter.add_hparams(writer)
        vocab.add_to_gguf(writer)

    with temporary_files(target) as temp:
        first = temp()
        report.message(f"converting {checkpoint.source.name} to {target.name}")
        try:
            write_gguf(first, converter.gguf_arch, add_keys, plan, report)
        except OSError as exc:
            raise ConvertError(f"cannot write {target}: {exc.strerror or exc}") from None
        final = first
        if not kind.direct:
            final = temp()
            imatrix = steps.imatrix_for(first, plan, report, temp)
            report.start(f"quantizing to {kind.label}", _estimate_quantized(plan, kind))
            used = quantize_file(first, final, str(kind.llama_ftype), report.advance_to, imatrix)
            report.finish()
            steps.note_quantized(used, report)
            if not steps.quality:
                first.unlink()  # free its space now; --quality still compares with it
        report.message("verifying")
        verify_gguf(final, plan, len(vocab.tokens), exact_types=kind.direct)
        steps.after_quantize(final, first, target, report)
        replace_durably(final, target)  # fsync, rename, fsync the folder
    report.message(f"wrote {target}")


def plan_type(plan: list[PlannedTensor]) -> str:
    """The type most 2-D tensors of ``plan`` have."""
    types = [t.ggml_type for t in plan if len(t.shape) > 1]
    return max(set(types), key=types.count) if types else "F32"


@contextmanager
def temporary_files(target: Path) -> Iterator[Any]:
    """Yield a factory of hidden temp paths next to ``target``; remove them all at the end."""
    made: list[Path] = []

    def new() -> Path:
        path = temp_path(target)
        made.append(path)
        return path

    try:
        yield new
    finally:
        for path in made:
            path.unlink(missing_ok=True)

