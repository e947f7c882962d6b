"""Model quality: perplexity, KL divergence against a reference, importance matrices.

Textual-free and free of ``convert`` imports; models are loaded through
``starling_tui.llama.backend`` (the AMX-safe loader).
"""
