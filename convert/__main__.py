"""``python -m convert`` runs the same command line as ``starling-convert``."""

from convert.cli import main

raise SystemExit(main())
