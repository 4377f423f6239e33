"""Run a prepared action: a program without a shell, or one HTTP request; capture, cap, time."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

CAP = 16 * 1024  # bytes kept of each output stream
KILL_GRACE = 2.0  # seconds to collect what a killed process group already wrote
# The only variables a command inherits: warroom's own environment holds its secrets.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")
REDACTED = "[redacted]"


@dataclass(frozen=True)
class CommandPlan:
    """A command ready to run: argv already filled."""

    argv: list[str]
    cwd: Path | None
    env: dict[str, str]
    timeout: float
    secrets: list[str] = field(default_factory=list)  # values to redact from the output


@dataclass(frozen=True)
class HttpPlan:
    """A request ready to send: URL and body already filled."""

    method: str
    url: str
    headers: dict[str, str]
    json_body: Any
    body: str | None
    timeout: float
    expect_status: list[int]


@dataclass
class Outcome:
    """What happened when an action ran."""

    ok: bool
    duration: float
    timed_out: bool = False
    exit_code: int | None = None
    status_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    body: str = ""
    truncated: bool = False
    error: str | None = None
    secrets: list[str] = field(default_factory=list, repr=False)

    def redact(self) -> None:
        """Replace every secret value the action was given wherever the output repeats it."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) < 4:  # too short to tell apart from ordinary text
                continue
            self.stdout = self.stdout.replace(secret, REDACTED)
            self.stderr = self.stderr.replace(secret, REDACTED)
            self.body = self.body.replace(secret, REDACTED)
            if self.error:
                self.error = self.error.replace(secret, REDACTED)


class Capture:
    """Keep the first and last bytes of a stream, counting what was dropped in between."""

    def __init__(self, cap: int = CAP) -> None:
        self.cap = cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk of output."""
        self.total += len(chunk)
        room = self.cap // 2 - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail = (self.tail + chunk)[-(self.cap - self.cap // 2) :]

    @property
    def truncated(self) -> bool:
        """Tell whether bytes were dropped."""
        return self.total > len(self.head) + len(self.tail)

    def text(self) -> str:
        """Return the kept output, with a marker where bytes were dropped."""
        head = self.head.decode("utf-8", "replace")
        if not self.truncated:
            return (bytes(self.head) + bytes(self.tail)).decode("utf-8", "replace")
        dropped = self.total - len(self.head) - len(self.tail)
        tail = self.tail.decode("utf-8", "replace")
        return f"{head}\n…[truncated: {dropped} bytes not kept]…\n{tail}"


def run_command(plan: CommandPlan) -> Outcome:
    """Run the program in its own process group; kill the whole group at the timeout."""
    env = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
    env |= plan.env
    started = time.monotonic()
    try:
        process = subprocess.Popen(  # an argv list, never a shell
            plan.argv,
            cwd=plan.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own group, so a timeout kills children too
        )
    except OSError as exc:
        return Outcome(
            ok=False,
            duration=time.monotonic() - started,
            error=f"cannot start {plan.argv[0]!r}: {exc.strerror or exc}",
            secrets=plan.secrets,
        )
    out, err = Capture(), Capture()
    timed_out = _drain(process, {process.stdout: out, process.stderr: err}, started + plan.timeout)
    if timed_out:
        _kill_group(process)
        _drain(process, {process.stdout: out, process.stderr: err}, time.monotonic() + KILL_GRACE)
    try:
        code = process.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:  # unkillable (e.g. stuck in the kernel): stop waiting
        code = None
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    duration = time.monotonic() - started
    outcome = Outcome(
        ok=not timed_out and code == 0,
        duration=duration,
        timed_out=timed_out,
        exit_code=code,
        stdout=out.text(),
        stderr=err.text(),
        truncated=out.truncated or err.truncated,
        error=f"timed out after {plan.timeout:g}s; the process group was killed"
        if timed_out
        else None,
        secrets=plan.secrets,
    )
    outcome.redact()
    return outcome


def _drain(
    process: subprocess.Popen[bytes], captures: dict[IO[bytes] | None, Capture], deadline: float
) -> bool:
    """Read both pipes until they close; return True if the deadline came first."""
    with selectors.DefaultSelector() as selector:
        for stream, capture in captures.items():
            if stream is not None and not stream.closed:
                selector.register(stream, selectors.EVENT_READ, capture)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            for key, _events in selector.select(timeout=min(remaining, 0.5)):
                chunk = os.read(key.fd, 65_536)
                if chunk:
                    key.data.feed(chunk)
                else:
                    selector.unregister(key.fileobj)
    # Pipes closed; the process itself may still be running (it closed them, or detached).
    remaining = deadline - time.monotonic()
    try:
        process.wait(timeout=max(remaining, 0))
    except subprocess.TimeoutExpired:
        return True
    return False


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the process and everything it started in its group."""
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)


def run_http(plan: HttpPlan) -> Outcome:
    """Send the request; a status outside `expect_status` (default: 2xx) is a failure."""
    secrets = list(plan.headers.values())
    # `Bearer <token>`: the token alone may come back in a body or an error.
    secrets += [value.split(" ", 1)[1] for value in secrets if " " in value.strip()]
    started = time.monotonic()
    kwargs: dict[str, Any] = {"headers": plan.headers}
    if plan.json_body is not None:
        kwargs["json"] = plan.json_body
    elif plan.body is not None:
        kwargs["content"] = plan.body.encode()
    try:
        with (
            httpx.Client(timeout=plan.timeout, follow_redirects=False) as client,
            client.stream(plan.method, plan.url, **kwargs) as response,
        ):
            body = Capture()
            for chunk in response.iter_bytes():
                body.feed(chunk)
                if time.monotonic() - started > plan.timeout:  # a slow trickle of bytes
                    raise httpx.ReadTimeout("the response took longer than the timeout")
    except httpx.TimeoutException:
        return Outcome(
            ok=False,
            duration=time.monotonic() - started,
            timed_out=True,
            error=f"no complete answer within {plan.timeout:g}s",
            secrets=secrets,
        )
    except httpx.HTTPError as exc:
        outcome = Outcome(
            ok=False,
            duration=time.monotonic() - started,
            error=f"request failed: {type(exc).__name__}: {exc}",
            secrets=secrets,
        )
        outcome.redact()
        return outcome
    code = response.status_code
    expected = code in plan.expect_status if plan.expect_status else 200 <= code < 300
    outcome = Outcome(
        ok=expected,
        duration=time.monotonic() - started,
        status_code=code,
        body=body.text(),
        truncated=body.truncated,
        error=None if expected else f"unexpected HTTP status {code}",
        secrets=secrets,
    )
    outcome.redact()
    return outcome
