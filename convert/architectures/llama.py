"""LlamaForCausalLM and MistralForCausalLM → GGUF architecture ``llama``.

Mistral v0.1-style checkpoints (Starling-LM-7B-beta among them) are Llama-shaped with grouped
query attention; llama.cpp runs both as ``llama``. Q and K projections are stored by HF in the
rotate-half layout and must be permuted per head into llama.cpp's interleaved RoPE layout.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConvertError
from . import register
from .base import ModelConverter


@register
class LlamaConverter(ModelConverter):
    """Dense Llama/Mistral decoder with RMSNorm, SwiGLU and RoPE."""

    hf_architectures = ("LlamaForCausalLM", "MistralForCausalLM")
    gguf_arch = "llama"

    @property
    def n_head(self) -> int:
        """Attention (query) heads."""
        return int(self.param("num_attention_heads"))

    @property
    def n_head_kv(self) -> int:
        """Key/value heads: fewer than ``n_head`` with grouped-query attention (Mistral)."""
        return int(self.param("num_key_value_heads", default=self.n_head))

    @property
    def head_dim(self) -> int:
        """Width of one head: config.json's ``head_dim``, else hidden size / heads."""
        hidden = int(self.param("hidden_size"))
        return int(self.param("head_dim", default=hidden // self.n_head))

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor of a Llama/Mistral checkpoint with the shape config.json implies."""
        hidden, ff = int(self.param("hidden_size")), int(self.param("intermediate_size"))
        vocab = int(self.param("vocab_size"))
        q, kv = self.n_head * self.head_dim, self.n_head_kv * self.head_dim
        shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (vocab, hidden)}
        for n in range(int(self.param("num_hidden_layers"))):
            p = f"model.layers.{n}"
            shapes.update({
                f"{p}.input_layernorm.weight": (hidden,),
                f"{p}.self_attn.q_proj.weight": (q, hidden),
                f"{p}.self_attn.k_proj.weight": (kv, hidden),
                f"{p}.self_attn.v_proj.weight": (kv, hidden),
                f"{p}.self_attn.o_proj.weight": (hidden, q),
                f"{p}.post_attention_layernorm.weight": (hidden,),
                f"{p}.mlp.gate_proj.weight": (ff, hidden),
                f"{p}.mlp.up_proj.weight": (ff, hidden),
                f"{p}.mlp.down_proj.weight": (hidden, ff),
            })
        shapes["model.norm.weight"] = (hidden,)
        shapes["lm_head.weight"] = (vocab, hidden)
        return shapes

    def optional_tensors(self) -> set[str]:
        """``lm_head.weight`` when the head is tied to the embeddings."""
        # a tied head reuses token_embd; llama.cpp does the same when output.weight is absent
        return {"lm_head.weight"} if self.config.get("tie_word_embeddings") else set()

    def permute_head_dim(self, hf_name: str) -> int | None:
        """The head width for the Q and K projections (rotate-half → interleaved RoPE)."""
        if hf_name.endswith(("self_attn.q_proj.weight", "self_attn.k_proj.weight")):
            return self.head_dim
        return None

    def add_hparams(self, writer: Any) -> None:
        """Write llama.cpp's ``llama.*`` hyper-parameters (heads, RoPE, norm epsilon…)."""
        hidden = int(self.param("hidden_size"))
        writer.add_vocab_size(int(self.param("vocab_size")))
        writer.add_context_length(int(self.param("max_position_embeddings")))
        writer.add_embedding_length(hidden)
        writer.add_block_count(int(self.param("num_hidden_layers")))
        writer.add_feed_forward_length(int(self.param("intermediate_size")))
        writer.add_head_count(self.n_head)
        writer.add_head_count_kv(self.n_head_kv)
        writer.add_layer_norm_rms_eps(float(self.param("rms_norm_eps", default=1e-5)))
        writer.add_rope_dimension_count(self.head_dim)
        if self.head_dim != hidden // self.n_head:
            writer.add_key_length(self.head_dim)
            writer.add_value_length(self.head_dim)
        theta, scaling = rope_settings(self.config)
        writer.add_rope_freq_base(theta)
        if scaling:
            add_rope_scaling(writer, scaling)


def rope_settings(config: dict[str, Any]) -> tuple[float, dict[str, Any] | None]:
    """RoPE theta and scaling from transformers-4 (``rope_theta``/``rope_scaling``) or -5
    (``rope_parameters``) style configs; scaling is None for plain RoPE."""
    params = config.get("rope_parameters") or {}
    theta = config.get("rope_theta", params.get("rope_theta", 10000.0))
    scaling = config.get("rope_scaling") or params
    kind = scaling.get("rope_type", scaling.get("type", "default")) if scaling else "default"
    if kind in ("default", None):
        return float(theta), None
    return float(theta), {**scaling, "rope_type": kind}


def add_rope_scaling(writer: Any, scaling: dict[str, Any]) -> None:
    """Write linear or YaRN RoPE scaling; other kinds are refused rather than silently dropped."""
    import gguf

    kind, factor = scaling["rope_type"], scaling.get("factor")
    if kind == "linear" and factor is not None:
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(factor))
    elif kind == "yarn" and factor is not None:
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(float(factor))
        if "original_max_position_embeddings" in scaling:
            writer.add_rope_scaling_orig_ctx_len(int(scaling["original_max_position_embeddings"]))
    else:
        raise ConvertError(f"unsupported RoPE scaling {kind!r} (supported: linear, yarn)")
