"""The Textual chat app (``starling-tui`` with no subcommand).

Only this package imports Textual; the core (engine, history, config, CLI) never does.
"""
