"""The output types ``--outtype`` accepts and how each one is produced.

Float types and Q8_0 are written directly; the other quantizations go through llama.cpp's
``llama_model_quantize`` from a lossless intermediate GGUF. ``bits_per_weight`` is a slightly
generous estimate used for the free-disk check. The IQ types (and Q2_K_S) are offered only
with an importance matrix (``--imatrix``): llama.cpp refuses most of them without one, and the
rest lose much more quality without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConvertError

DEFAULT_OUTTYPE = "q4_k_m"


@dataclass(frozen=True)
class OutType:
    """One ``--outtype`` choice."""

    name: str
    label: str  # as it appears in file names, e.g. Q4_K_M
    ggml_type: str | None  # direct: the GGMLQuantizationType name of 2-D weights
    llama_ftype: str | None  # quantized by llama.cpp: the LLAMA_FTYPE_* constant name
    file_type: int  # general.file_type (llama_ftype value)
    bits_per_weight: float
    needs_imatrix: bool = False

    @property
    def direct(self) -> bool:
        """True when the gguf package writes this type without llama.cpp's quantizer."""
        return self.ggml_type is not None


OUTTYPES: dict[str, OutType] = {
    t.name: t
    for t in (
        OutType("f32", "F32", "F32", None, 0, 32.0),
        OutType("f16", "F16", "F16", None, 1, 16.0),
        OutType("bf16", "BF16", "BF16", None, 32, 16.0),
        OutType("q8_0", "Q8_0", "Q8_0", None, 7, 8.5),
        OutType("q6_k", "Q6_K", None, "LLAMA_FTYPE_MOSTLY_Q6_K", 18, 6.7),
        OutType("q5_k_m", "Q5_K_M", None, "LLAMA_FTYPE_MOSTLY_Q5_K_M", 17, 5.8),
        OutType("q4_k_m", "Q4_K_M", None, "LLAMA_FTYPE_MOSTLY_Q4_K_M", 15, 5.0),
        OutType("q4_k_s", "Q4_K_S", None, "LLAMA_FTYPE_MOSTLY_Q4_K_S", 14, 4.8),
        OutType("q4_0", "Q4_0", None, "LLAMA_FTYPE_MOSTLY_Q4_0", 2, 4.8),
        OutType("q3_k_m", "Q3_K_M", None, "LLAMA_FTYPE_MOSTLY_Q3_K_M", 12, 4.2),
        OutType("q2_k", "Q2_K", None, "LLAMA_FTYPE_MOSTLY_Q2_K", 10, 3.6),
    )
}



def _imatrix_type(name: str, file_type: int, bits_per_weight: float) -> OutType:
    return OutType(name, name.upper(), None, f"LLAMA_FTYPE_MOSTLY_{name.upper()}", file_type,
                   bits_per_weight, needs_imatrix=True)


# Quantized by llama.cpp with an importance matrix only; bits are generous (the embeddings
# and output head stay at a higher type).
IMATRIX_OUTTYPES: dict[str, OutType] = {
    t.name: t
    for t in (
        _imatrix_type("iq4_xs", 30, 4.8),
        _imatrix_type("iq4_nl", 25, 5.0),
        _imatrix_type("iq3_m", 27, 4.2),
        _imatrix_type("iq3_s", 26, 4.0),
        _imatrix_type("iq3_xs", 22, 3.9),
        _imatrix_type("iq3_xxs", 23, 3.6),
        _imatrix_type("q2_k_s", 21, 3.4),
        _imatrix_type("iq2_m", 29, 3.3),
        _imatrix_type("iq2_s", 28, 3.1),
        _imatrix_type("iq2_xs", 20, 3.0),
        _imatrix_type("iq2_xxs", 19, 2.8),
        _imatrix_type("iq1_m", 31, 2.5),
        _imatrix_type("iq1_s", 24, 2.3),
    )
}
ALL_OUTTYPES: dict[str, OutType] = {**OUTTYPES, **IMATRIX_OUTTYPES}


def lookup(name: str) -> OutType:
    """Find an output type by name (case-insensitive) or raise a one-line error."""
    found = ALL_OUTTYPES.get(name.strip().lower())
    if found is None:
        raise ConvertError(f"unknown --outtype {name!r} (choose from {', '.join(ALL_OUTTYPES)})")
    return found
