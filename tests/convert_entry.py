"""``python tests/convert_entry.py DELAY ARGS…``: the converter CLI with a slowing observer.

Subprocess tests (a signal mid-conversion, the progress bar on a pty) need the writing to take
a while; they run this entry script, which hands ``starling_convert.cli.main`` an observer that
sleeps DELAY seconds after every block written — the product code reads no test variable.
"""

from __future__ import annotations

import sys
import time


def main() -> int:
    """Run the converter with every block followed by a pause."""
    from starling_convert.cli import main as convert_main
    from starling_convert.hooks import ConvertHooks

    delay = float(sys.argv[1])

    def slow(label: str, done: int, total: int) -> None:
        if label == "writing":
            time.sleep(delay)

    return convert_main(sys.argv[2:], ConvertHooks(observer=slow))


if __name__ == "__main__":
    sys.exit(main())
