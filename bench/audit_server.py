"""`warroom` with the audit log switched off when WARROOM_BENCH_AUDIT=off: bench.audit's
baseline, so the same run can be timed with and without it. Never a way to run warroom."""

from __future__ import annotations

import os
from typing import Any

from warroom.audit import service


def _nothing(*_args: Any, **_kwargs: Any) -> None:
    """Audit nothing (the baseline)."""


if os.environ.get("WARROOM_BENCH_AUDIT") == "off":
    # Every way in: nothing is noted, nothing is chained, the head is never locked.
    service.record = _nothing  # type: ignore[assignment]
    service.record_now = _nothing  # type: ignore[assignment]
    service.record_with_request = _nothing  # type: ignore[assignment]
    service.seal = _nothing  # type: ignore[assignment]

if __name__ == "__main__":
    from warroom.cli.main import run

    run()
