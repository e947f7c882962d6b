"""``python -m starling_convert.describe TYPE``: one output type as JSON, for ``starling-tui pull``.

``starling_tui`` never imports the converter (it runs it as a child process), yet ``pull``
must know before downloading what a ``--quant`` produces: the file-name label, and the disk a
conversion needs. This prints ``{"name", "label", "direct", "bits_per_weight"}`` for TYPE, or one
error line on stderr and exit status 1 for an unknown type.
"""

from __future__ import annotations

import json
import sys


def describe(name: str) -> dict[str, object]:
    """The facts ``pull`` needs about output type ``name`` (raises ConvertError)."""
    from .outtypes import lookup

    kind = lookup(name)
    return {"name": kind.name, "label": kind.label, "direct": kind.direct,
            "bits_per_weight": kind.bits_per_weight}


def main(argv: list[str] | None = None) -> int:
    """Print TYPE's description; returns the exit status."""
    from .errors import ConvertError

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m starling_convert.describe TYPE", file=sys.stderr)
        return 2
    try:
        print(json.dumps(describe(args[0])))
    except ConvertError as exc:
        print(f"starling-convert: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
