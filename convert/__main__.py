"""``python -m starling_convert`` runs the same command line as ``starling-convert``."""

from .cli import main

raise SystemExit(main())
