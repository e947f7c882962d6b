"""``starling-tui pull``: fetch a checkpoint from the Hugging Face Hub, make it the default model.

- :mod:`.selection` decides which repo files conversion needs (never ``.bin`` pickles);
- :mod:`.download` fetches them into the Hugging Face cache, resumably;
- :mod:`.cache` finds them there when offline and names what is missing;
- :mod:`starling_tui.disk` (shared with the converter) checks free space before anything large
  is written;
- :mod:`.service` ties it together (checkpoint → converter → models folder, or a ready GGUF).

huggingface_hub is imported lazily, inside functions: it reads ``HF_*`` variables when first
imported and it is slow to import.
"""
