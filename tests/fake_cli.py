"""Entry script for subprocess tests: ``starling-tui`` with a scripted engine.

``python tests/fake_cli.py SPEC ARGS...`` runs ``main(ARGS, engine_factory=...)`` where SPEC is
JSON: ``{"replies": [...], "delay_s": 0.1, "fail_on": "word"}`` (see ``FakeEngine``). The product
never reads a test switch: the fake is injected here, in the test's own entry point.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from starling_tui.cli.main import main
from starling_tui.config import Settings
from starling_tui.engine.fake import FakeEngine


def scripted(spec: dict[str, Any]) -> Callable[[Settings], FakeEngine]:
    """An engine factory making a ``FakeEngine`` that follows ``spec``."""

    def make(_settings: Settings) -> FakeEngine:
        return FakeEngine(
            spec.get("replies", ()),
            delay_s=float(spec.get("delay_s", 0.0)),
            fail_on=spec.get("fail_on"),
        )

    return make


if __name__ == "__main__":
    sys.exit(main(sys.argv[2:], engine_factory=scripted(json.loads(sys.argv[1]))))
