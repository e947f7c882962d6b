"""starling-tui: an offline terminal chat client for Starling-LM-7B-beta LaserRMT.

The package is split so that everything except :mod:`starling_tui.ui` imports without
Textual: the engine, prompt building, history store and CLI are usable headless.
"""

__version__ = "0.1.0"
