"""Children that take Ctrl-C the way a terminal delivers it.

A test run started in the background (``cmd &`` in a script, ``nohup``) passes SIGINT on to its
children as ignored, and a Python child then installs no ``KeyboardInterrupt`` handler: a test
that sends SIGINT would see the child carry on. The tests that press Ctrl-C start their child
with SIGINT's default disposition, as a terminal's foreground process has it.
"""

from __future__ import annotations

import signal


def take_ctrl_c() -> None:
    """``preexec_fn`` for a child that must take SIGINT as from a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
