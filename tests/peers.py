"""Real peer processes for tests: Debian's Alertmanager and Prometheus, on 127.0.0.1 only."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import yaml

from tests.conftest import free_port, need

ALERTMANAGER = "prometheus-alertmanager"
PROMETHEUS = "prometheus"
LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 30.0
LOG_TAIL = 8_000
T = TypeVar("T")


def loopback_client(timeout: float = 30.0, **kwargs: Any) -> httpx.Client:
    """An httpx client that ignores proxy settings: peers are only ever on 127.0.0.1."""
    return httpx.Client(trust_env=False, timeout=timeout, **kwargs)


def require_loopback(url: str) -> str:
    """Return `url` if it points at 127.0.0.1; refuse anything else."""
    if urlsplit(url).hostname != LOOPBACK:
        raise ValueError(f"peers talk only to {LOOPBACK}, not {url!r}")
    return url.rstrip("/")


def _child_env() -> dict[str, str]:
    """The environment for a peer, without proxy variables."""
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


@dataclass
class Peer:
    """A running peer process, its base URL and its log file."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self, limit: int = LOG_TAIL) -> str:
        """Return the last `limit` characters of the peer's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return text[-limit:]

    def describe(self) -> str:
        """A header and the log tail, for failure messages."""
        state = "running" if self.process.poll() is None else f"exit {self.process.returncode}"
        return (
            f"----- {self.name} at {self.url} (pid {self.process.pid}, {state}) -----\n{self.log()}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process, killing it if it does not exit within `timeout` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


class PeerStartError(RuntimeError):
    """A peer exited or never became ready."""


def _launch(name: str, workdir: Path, argv: Callable[[int], list[str]], attempts: int = 3) -> Peer:
    """Start `argv(port)` on a free loopback port and wait for `/-/ready`; retry a taken port."""
    for attempt in range(attempts):
        port = free_port()
        log_path = workdir / f"{name}.{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv(port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_child_env(),
            )
        peer = Peer(name=name, url=f"http://{LOOPBACK}:{port}", process=process, log_path=log_path)
        try:
            _wait_ready(peer)
        except PeerStartError:
            peer.stop()
            if "address already in use" in peer.log() and attempt + 1 < attempts:
                continue  # another process took the port between free_port() and bind
            raise
        except BaseException:  # interrupted or a bug here: never leave the process behind
            peer.stop()
            raise
        return peer
    raise AssertionError("unreachable")


def _wait_ready(peer: Peer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    with loopback_client(timeout=1) as client:
        while True:
            if peer.process.poll() is not None:
                raise PeerStartError(f"{peer.name} exited before it was ready\n{peer.describe()}")
            try:
                if client.get(f"{peer.url}/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise PeerStartError(
                    f"{peer.name} not ready after {READY_TIMEOUT:.0f}s\n{peer.describe()}"
                )
            time.sleep(0.05)


def _workdir(tmp_path: Path, name: str) -> Path:
    """A fresh directory for one peer under the test's tmp_path."""
    for index in range(100):
        path = tmp_path / f"{name}-{index}"
        if not path.exists():
            path.mkdir(parents=True)
            return path
    raise RuntimeError(f"too many {name} peers in {tmp_path}")


def start_alertmanager(
    tmp_path: Path,
    webhook_url: str,
    token: str,
    *,
    group_by: Sequence[str] = ("service",),
    group_wait: str = "0s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
) -> Peer:
    """Run Alertmanager with one `warroom` webhook receiver (bearer `token`, send_resolved)."""
    need(shutil.which(ALERTMANAGER) is not None, f"{ALERTMANAGER} is not installed (apt)")
    workdir = _workdir(tmp_path, "alertmanager")
    config = {
        "route": {
            "receiver": "warroom",
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {
                "name": "warroom",
                "webhook_configs": [
                    {
                        "url": require_loopback(webhook_url),
                        "send_resolved": True,
                        "http_config": {"authorization": {"credentials": token}},
                    }
                ],
            }
        ],
    }
    config_path = workdir / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    (workdir / "data").mkdir()

    def argv(port: int) -> list[str]:
        return [
            ALERTMANAGER,
            f"--config.file={config_path}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--cluster.listen-address=",  # no gossip port
            f"--web.external-url=http://{LOOPBACK}:{port}",
            "--log.level=debug",
        ]

    return _launch("alertmanager", workdir, argv)


def start_prometheus(
    tmp_path: Path,
    alertmanager_url: str,
    rules_yaml: str,
    targets: Sequence[str],
    *,
    job: str = "checkout",
    interval: str = "1s",
) -> Peer:
    """Run Prometheus: scrape `targets` as `job`, evaluate `rules_yaml`, alert Alertmanager."""
    need(shutil.which(PROMETHEUS) is not None, f"{PROMETHEUS} is not installed (apt)")
    workdir = _workdir(tmp_path, "prometheus")
    rules_path = workdir / "rules.yml"
    rules_path.write_text(rules_yaml)
    alertmanager = urlsplit(require_loopback(alertmanager_url)).netloc
    for target in targets:
        require_loopback(f"http://{target}")
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "rule_files": [str(rules_path)],
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}],
    }
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    (workdir / "data").mkdir()

    def argv(port: int) -> list[str]:
        return [
            PROMETHEUS,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            f"--web.external-url=http://{LOOPBACK}:{port}/",  # generatorURL stays on loopback
            "--log.level=debug",
        ]

    return _launch("prometheus", workdir, argv)


@dataclass
class Peers:
    """The peers one test started: stopped together, their logs printed for failure reports."""

    tmp_path: Path
    started: list[Peer] = field(default_factory=list)

    def alertmanager(self, webhook_url: str, token: str, **options: Any) -> Peer:
        """Start an Alertmanager (see `start_alertmanager`) and remember it."""
        peer = start_alertmanager(self.tmp_path, webhook_url, token, **options)
        self.started.append(peer)
        return peer

    def prometheus(
        self, alertmanager_url: str, rules_yaml: str, targets: Sequence[str], **options: Any
    ) -> Peer:
        """Start a Prometheus (see `start_prometheus`) and remember it."""
        peer = start_prometheus(self.tmp_path, alertmanager_url, rules_yaml, targets, **options)
        self.started.append(peer)
        return peer

    def logs(self) -> str:
        """Every started peer's log tail."""
        return "\n".join(peer.describe() for peer in self.started)

    def stop(self) -> None:
        """Stop every peer, newest first, then print their logs (pytest shows them on failure)."""
        for peer in reversed(self.started):
            peer.stop()
        if self.started:
            print(self.logs())

    def wait_for(self, check: Callable[[], T | None], what: str, timeout: float = 20.0) -> T:
        """Poll `check` until it returns something other than None or False; fail with the logs."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            try:
                value = check()
            except (httpx.TransportError, AssertionError) as exc:
                value, last_error = None, exc
            if value is not None and value is not False:
                return value
            if time.monotonic() > deadline:
                note = f" (last error: {last_error!r})" if last_error else ""
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {what}{note}\n{self.logs()}"
                )
            for peer in self.started:
                if peer.process.poll() is not None:
                    raise AssertionError(
                        f"{peer.name} died while waiting for {what}\n{self.logs()}"
                    )
            time.sleep(0.1)
