"""SIGHUP hands the reload to a thread: the YAML is never parsed on the event-loop thread."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from warroom.cli.serve import reload_on_sighup
from warroom.config import WarroomConfig
from warroom.runtime import Runtime


def test_sighup_reloads_on_the_reload_thread(runtime: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text("services:\n  - {id: checkout}\n")
    runtime.settings.config = path
    reloaded_on: list[str] = []
    done = threading.Event()
    reload = runtime.reload_config

    def recording_reload() -> WarroomConfig:
        reloaded_on.append(threading.current_thread().name)
        try:
            return reload()
        finally:
            done.set()

    runtime.reload_config = recording_reload  # type: ignore[method-assign]
    previous = signal.getsignal(signal.SIGHUP)
    try:
        reload_on_sighup(runtime)
        os.kill(os.getpid(), signal.SIGHUP)
        assert done.wait(30)
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert reloaded_on == ["config-reload"]
    assert threading.current_thread() is threading.main_thread()
    assert [s.id for s in runtime.config().services] == ["checkout"]
