"""No secret leaks into a log line, a response or a file (issue 15, item 3).

`warroom serve` runs as a subprocess at DEBUG, in the text and in the JSON log format, with
every integration's secret given as `env:NAME` or `file:/PATH` and pointed at the loopback
vendors. Real traffic follows: an SEV-1 that reaches Slack, e-mail, Zoom, PagerDuty,
Statuspage and a webhook; signed and token-authenticated intake; sign-in and sign-out in the
browser's way; a second factor enrolled; a calendar fetched by its token in the URL; wrong
tokens, a wrong password, secrets sent where they do not belong; a configuration reload by
API and by SIGHUP. Then every secret is looked for in the server's output (its own log lines
and uvicorn's access log), every response the test received, and every byte under the data
and runbook directories, the SQLite database and its WAL among them.

Left out by design, each where it is handed to its owner: the response that enrols the second
factor (its secret), the one that confirms it (the recovery codes), the sign-in's Set-Cookie
(the session), and the pages' bodies for the CSRF token (a form must carry it). The TOTP
secret is in the database on purpose (codes are checked against it), so only the database is
not searched for it. The configuration and the secret files live outside the searched
directories: they hold the secrets by definition.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pyotp
import pytest
import yaml

from tests.conftest import SHARED, TEMPLATES, free_port
from tests.security.leak_vendors import (
    FROM_ENV,
    PASSWORD,
    RITA_PASSWORD,
    SECRETS,
    WRONG_PASSWORD,
    Vendors,
    configuration,
)
from warroom.app import build_runtime
from warroom.auth import service as auth
from warroom.config import WarroomConfig
from warroom.settings import Settings


@dataclass
class Run:
    """What one run left behind: the server's output, the responses, the folders."""

    output: bytes = b""
    responses: list[tuple[str, bytes]] = field(default_factory=list)  # (label, headers+body)
    known: dict[str, str] = field(default_factory=dict)  # secrets learnt during the run


def record(run: Run, label: str, answer: httpx.Response, *, body: bool = True) -> httpx.Response:
    """Keep an answer's headers (and body) for the search."""
    head = "\n".join(f"{k}: {v}" for k, v in answer.headers.multi_items())
    run.responses.append((label, head.encode() + b"\n\n" + (answer.content if body else b"")))
    return answer


def hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def slack_headers(body: bytes, secret: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + hex_hmac(secret, f"v0:{stamp}:".encode() + body),
    }


def prepare(settings: Settings, config: WarroomConfig, run: Run) -> None:
    """Create the users and their tokens in the database, as `warroom users/tokens` do."""
    runtime = build_runtime(settings, config=config, upgrade=True)
    try:
        with runtime.db.transaction() as session:
            now = runtime.clock.now()
            for name, role in (("ada", "admin"), ("rita", "responder"), ("vic", "viewer")):
                secret = RITA_PASSWORD if name == "rita" else None
                user = auth.create_user(session, name=name, role=role, now=now, password=secret)
                run.known[f"{name}_token"] = auth.create_token(
                    session, user=user, name="test", now=now
                )
            auth.create_user(session, name="carol", role="responder", now=now, password=PASSWORD)
            alice = auth.create_user(session, name="alice", role="responder", now=now)
            run.known["calendar_token"] = auth.create_token(
                session, user=alice, name="calendar", now=now, scopes={"calendar"}
            )
    finally:
        runtime.close()


def wait_until(check: Any, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def traffic(
    http: httpx.Client, run: Run, vendors: Vendors, server: subprocess.Popen[bytes]
) -> None:
    """Everything a day of incident response sends, and some mistakes."""
    bearer = {
        k: {"Authorization": f"Bearer {run.known[f'{k}_token']}"} for k in ("ada", "rita", "vic")
    }
    for path in ("/healthz", "/readyz", "/metrics"):
        record(run, path, http.get(path, headers=bearer["ada"]))
    for who in ("ada", "rita", "vic"):
        assert record(run, "me", http.get("/api/v1/me", headers=bearer[who])).status_code == 200
    declared = http.post(
        "/api/v1/incidents",
        json={"title": "Checkout down", "severity": "SEV-1", "service": "checkout"},
        headers=bearer["rita"],
    )
    assert record(run, "declare", declared).status_code == 201, declared.text
    number = declared.json()["number"]
    update = {"status": "investigating", "body": "Looking", "public_title": "Checkout trouble"}
    posted = http.post(
        f"/api/v1/incidents/{number}/status-updates", json=update, headers=bearer["rita"]
    )
    assert record(run, "status update", posted).status_code == 201, posted.text

    # Intake, each with its own credential.
    firing = json.loads((SHARED / "fixtures" / "alertmanager" / "firing.json").read_text())
    am = {"Authorization": f"Bearer {SECRETS['alertmanager_token']}"}
    answer = http.post("/api/v1/intake/alertmanager", json=firing, headers=am)
    assert record(run, "alertmanager", answer).status_code in (200, 202), answer.text
    hook = {"Authorization": f"Bearer {SECRETS['webhook_token']}"}
    alert = {"title": "Disk full", "dedup_key": "disk-1", "severity": "warning"}
    answer = http.post("/api/v1/intake/webhook", json=alert, headers=hook)
    assert record(run, "webhook", answer).status_code in (200, 202), answer.text
    grafana = json.dumps({"alerts": [], "status": "firing", "receiver": "warroom"}).encode()
    stamp = str(int(time.time()))
    signed = {
        "Content-Type": "application/json",
        "X-Grafana-Alerting-Signature": hex_hmac(
            SECRETS["grafana_secret"], f"{stamp}:".encode() + grafana
        ),
        "X-Grafana-Alerting-Timestamp": stamp,
    }
    record(run, "grafana", http.post("/api/v1/intake/grafana", content=grafana, headers=signed))
    command = urlencode(
        {
            "command": "/incident",
            "text": "help",
            "user_id": "UALICE1",
            "team_id": "T1",
            "channel_id": "C1",
            "response_url": vendors.slack.response_url(),
        }
    ).encode()
    answer = http.post(
        "/api/v1/intake/slack/commands",
        content=command,
        headers=slack_headers(command, SECRETS["slack_signing"]),
    )
    assert record(run, "slack command", answer).status_code == 200, answer.text

    # Mistakes: wrong credentials, and secrets sent where they do not belong.
    wrong = [
        ("/api/v1/me", {"Authorization": "Bearer wr_" + "Z" * 43}),
        ("/api/v1/me", {"Authorization": f"Bearer {SECRETS['alertmanager_token']}"}),
        ("/api/v1/me", {"Authorization": f"Bearer {SECRETS['slack_bot']}"}),
        ("/api/v1/me", {"Authorization": f"Bearer {run.known['calendar_token']}"}),
    ]
    for path, headers in wrong:
        assert record(run, "wrong token", http.get(path, headers=headers)).status_code in (401, 403)
    answer = http.post("/api/v1/intake/alertmanager", json=firing, headers=bearer["ada"])
    assert record(run, "api token at intake", answer).status_code in (401, 403)
    answer = http.post(
        "/api/v1/intake/slack/commands",
        content=command,
        headers=slack_headers(command, SECRETS["grafana_secret"]),
    )
    assert record(run, "bad slack signature", answer).status_code in (401, 403)

    # The browser's way: a wrong password, then sign-in, a page, a form, sign-out.
    record(run, "sign-in page", http.get("/sign-in"))
    answer = http.post("/sign-in", data={"user": "carol", "password": WRONG_PASSWORD, "next": "/"})
    assert record(run, "wrong password", answer).status_code in (200, 401, 403, 422)
    answer = http.post("/sign-in", data={"user": "carol", "password": PASSWORD, "next": "/"})
    assert answer.status_code == 303, answer.text
    # Not recorded: its Set-Cookie hands the session to its owner.
    session = http.cookies.get("warroom_session") or next(iter(http.cookies.values()))
    run.known["session"] = session
    page = http.get("/")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    run.known["csrf"] = found.group(1)
    record(run, "board page", page)
    note = http.post(
        f"/incidents/{number}/notes", data={"csrf_token": run.known["csrf"], "text": "Rolled back"}
    )
    record(run, "note form", note)
    record(run, "sign-out", http.post("/sign-out", data={"csrf_token": run.known["csrf"]}))
    http.cookies.clear()
    http.cookies.set("warroom_session", session)  # the ended session, replayed
    assert record(run, "after sign-out", http.get("/api/v1/me")).status_code == 401
    http.cookies.clear()

    # A second factor: the enrolment and the recovery codes are handed out once, by design.
    enrol = http.post("/api/v1/me/totp", json={"password": RITA_PASSWORD}, headers=bearer["rita"])
    assert enrol.status_code == 201, enrol.text
    record(run, "totp enrol", enrol, body=False)
    run.known["totp_secret"] = enrol.json()["secret"]
    code = pyotp.TOTP(run.known["totp_secret"]).now()
    confirmed = http.post("/api/v1/me/totp/confirm", json={"code": code}, headers=bearer["rita"])
    assert confirmed.status_code == 200, confirmed.text
    record(run, "totp confirm", confirmed, body=False)
    for number_, recovery in enumerate(confirmed.json()["recovery_codes"]):
        run.known[f"recovery_{number_}"] = recovery

    # The calendar, token in the URL as calendar apps send it.
    calendar = http.get("/api/v1/people/alice/ical", params={"token": run.known["calendar_token"]})
    assert record(run, "calendar", calendar).status_code == 200, calendar.text
    record(
        run,
        "calendar, wrong token",
        http.get("/api/v1/people/alice/ical", params={"token": "wr_" + "Y" * 43}),
    )

    # Reload, by API and by signal.
    assert record(run, "reload", http.post("/-/reload", headers=bearer["ada"])).status_code == 200
    server.send_signal(signal.SIGHUP)

    # The engine sends: wait until every vendor has heard of the incident.
    assert wait_until(lambda: vendors.slack.messages()), "nothing reached Slack"
    assert wait_until(lambda: vendors.mail.envelopes), "no e-mail was sent"
    assert wait_until(lambda: vendors.hooks.events), "no webhook was delivered"
    assert wait_until(lambda: vendors.pager.events), "nothing reached PagerDuty"
    assert wait_until(lambda: vendors.zoom.meetings), "no Zoom meeting was made"
    assert wait_until(lambda: vendors.statuspage.incidents), "nothing reached Statuspage"
    record(run, "readyz at the end", http.get("/readyz", headers=bearer["ada"]))


def forms(value: str) -> list[bytes]:
    """The forms a secret could take in bytes: as is, URL-encoded, JSON-escaped, base64."""
    shapes = {value, quote(value, safe=""), json.dumps(value)[1:-1]}
    shapes.add(base64.b64encode(value.encode()).decode())
    return [shape.encode() for shape in shapes]


def leaks(secrets: dict[str, str], haystack: bytes) -> list[str]:
    """Return the names of the secrets found in `haystack`."""
    return [name for name, value in secrets.items() if any(f in haystack for f in forms(value))]


# aiosmtpd warns that AUTH without TLS is unsafe: here it is loopback, and on purpose.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_in_logs_responses_or_files(
    tmp_path: Path, vendors: Vendors, log_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"  # the configuration and the secret files: outside the search
    etc.mkdir()
    data_dir, runbooks_dir = tmp_path / "var", tmp_path / "runbooks"
    runbooks_dir.mkdir()
    (runbooks_dir / "templates").symlink_to(TEMPLATES)
    raw = configuration(vendors, etc)
    (etc / "warroom.yaml").write_text(yaml.safe_dump(raw))
    env = {
        **os.environ,
        "WARROOM_CONFIG": str(etc / "warroom.yaml"),
        "WARROOM_DATA_DIR": str(data_dir),
        "WARROOM_RUNBOOKS_DIR": str(runbooks_dir),
        "WARROOM_LOG_LEVEL": "DEBUG",
        "WARROOM_LOG_FORMAT": log_format,
        **{f"WR_TEST_{name.upper()}": SECRETS[name] for name in FROM_ENV},
    }
    env.pop("WARROOM_DATABASE_URL", None)
    settings = Settings(
        data_dir=data_dir,
        runbooks_dir=runbooks_dir,
        config=etc / "warroom.yaml",
        database_url=f"sqlite:///{data_dir / 'warroom.db'}",
    )
    run = Run()
    for name in FROM_ENV:  # for the users made in-process before the server starts
        monkeypatch.setenv(f"WR_TEST_{name.upper()}", SECRETS[name])
    loaded = WarroomConfig.model_validate(yaml.safe_load((etc / "warroom.yaml").read_text()))
    prepare(settings, loaded, run)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "warroom", "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=10) as http:
                assert wait_until(lambda: _up(http), 30), log.read_text()
                traffic(http, run, vendors, server)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    run.output = log.read_bytes()
    secrets = {**SECRETS, **run.known, "password": PASSWORD, "wrong_password": WRONG_PASSWORD}
    secrets["rita_password"] = RITA_PASSWORD

    # The run really logged at DEBUG, access lines included: an empty log would prove nothing.
    text = run.output.decode(errors="replace")
    assert "/api/v1/intake/alertmanager" in text and "token=[redacted]" in text, text[-3000:]
    if log_format == "json":
        assert sum(line.startswith("{") for line in text.splitlines()) > 20

    problems = []
    found = leaks(secrets, run.output)
    if found:
        problems.append(f"server output: {found}")
    for label, answer in run.responses:
        allowed = {"csrf"} if label in ("board page", "note form", "sign-in page") else set()
        found = [n for n in leaks(secrets, answer) if n not in allowed]
        if found:
            problems.append(f"response {label!r}: {found}")
    files = [p for root in (data_dir, runbooks_dir) for p in root.rglob("*") if p.is_file()]
    assert any(p.name == "warroom.db" for p in files)
    for path in files:
        content = path.read_bytes()
        # The TOTP secret must be kept to check codes: only the database may hold it.
        skip = {"totp_secret"} if path.name.startswith("warroom.db") else set()
        found = [n for n in leaks(secrets, content) if n not in skip]
        if found:
            problems.append(f"file {path.relative_to(tmp_path)}: {found}")
    assert not problems, "\n".join(problems)


def _up(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False
