"""`warroom notify test PERSON` on the local setup: real SMTP (aiosmtpd) and a loopback ntfy
server over real sockets, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from tests.conftest import free_port, need
from tests.notify.ntfy_server import NtfyServer
from tests.notify.vendors import Controller, Mailbox
from warroom.audit import service as audit
from warroom.cli.main import app
from warroom.escalation.models import ContactMethod
from warroom.storage.db import Database

runner = CliRunner()
PLAIN = {"COLUMNS": "200", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "WARROOM_URL": None}
TOPIC = "warroom-alice-Qx7mV2pLk9"  # the secret part of the push URL


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    need(Controller is not None, "aiosmtpd is not installed")
    mail, port = Mailbox(), free_port()
    server = Controller(mail, hostname="127.0.0.1", port=port)
    server.start()
    try:
        yield mail, port
    finally:
        server.stop()


@pytest.fixture
def ntfy() -> Iterator[NtfyServer]:
    with NtfyServer() as server:
        yield server


def setup(
    tmp_path: Path, env: dict[str, str], people: list[dict[str, object]], smtp_port: int | None
) -> dict[str, str | None]:
    """Write warroom.yaml with `people` (and SMTP on the loopback port); return the env."""
    document: dict[str, object] = {"people": people}
    if smtp_port is not None:
        document["integrations"] = {
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "from": "warroom@example.com"},
            "push": {"timeout": 2},
        }
    config = tmp_path / "warroom.yaml"
    config.write_text(yaml.safe_dump(document))
    return {**env, **PLAIN, "WARROOM_CONFIG": str(config)}


def alice(ntfy: NtfyServer, **more: object) -> dict[str, object]:
    return {
        "id": "alice",
        "name": "Alice Ng",
        "email": "alice@example.com",
        "contact_methods": [{"id": "phone", "type": "push", "to": ntfy.url(TOPIC)}],
        **more,
    }


def notify_test(env: dict[str, str | None], *args: str) -> Result:
    return runner.invoke(app, ["notify", "test", *args], env=env)


def test_email_and_push_both_go_out_and_the_table_shows_both(
    env: dict[str, str], tmp_path: Path, mailbox: tuple[Mailbox, int], ntfy: NtfyServer
) -> None:
    mail, port = mailbox
    run_env = setup(tmp_path, env, [alice(ntfy)], port)

    result = notify_test(run_env, "alice")

    assert result.exit_code == 0, (result.stdout, result.stderr)
    (message,) = mail.to("alice@example.com")
    assert message["Subject"] == "warroom test page for Alice Ng"
    assert "no incident, nothing to acknowledge" in message.get_content()
    (pushed,) = ntfy.on(TOPIC)
    assert pushed["title"] == "warroom test page for Alice Ng"
    text = "warroom test page for Alice Ng: no incident, nothing to acknowledge"
    assert pushed["message"] == text
    assert pushed["priority"] == 5  # as loud as a SEV-1 page (integrations.push.urgency)
    assert "actions" not in pushed  # nothing to acknowledge
    out = result.stdout
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 3}
    assert "email" in rows and "phone" in rows
    assert "a•••@example.com" in rows["email"] and "sent (" in rows["email"]
    assert f"ntfy://127.0.0.1:{ntfy.base_url.rsplit(':', 1)[1]}/•••" in rows["phone"]
    assert "sent (notify-test:alice:phone:" in rows["phone"]
    assert TOPIC not in out + result.stderr
    assert "alice@example.com" not in out


def test_a_failing_push_server_is_exit_1_with_the_reason(
    env: dict[str, str], tmp_path: Path, mailbox: tuple[Mailbox, int], ntfy: NtfyServer
) -> None:
    mail, port = mailbox
    run_env = setup(tmp_path, env, [alice(ntfy)], port)
    ntfy.fail(500)

    result = notify_test(run_env, "alice")

    assert result.exit_code == 1
    assert "error: phone (push) failed: Failed to send ntfy notification to topic '•••': " in (
        result.stderr
    )
    assert "internal server error" in result.stderr
    assert len(mail.to("alice@example.com")) == 1  # the other method still went out
    assert TOPIC not in result.stdout + result.stderr
    database = Database(env["WARROOM_DATABASE_URL"])
    try:
        with database.session() as session:
            (entry,) = audit.entries(session, action="notify.test")
            assert (entry.target, entry.outcome, entry.client) == ("alice", "failed", "local")
            assert entry.details == {"email": "sent", "phone": "failed"}
            assert entry.actor.startswith("os:")
    finally:
        database.dispose()


@pytest.mark.parametrize("choice", ["push", "phone"])
def test_method_sends_only_that_method(
    env: dict[str, str],
    tmp_path: Path,
    mailbox: tuple[Mailbox, int],
    ntfy: NtfyServer,
    choice: str,
) -> None:
    mail, port = mailbox
    run_env = setup(tmp_path, env, [alice(ntfy)], port)

    result = notify_test(run_env, "alice", "--method", choice)

    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert len(ntfy.on(TOPIC)) == 1
    assert mail.messages() == []
    assert "email" not in result.stdout


def test_a_method_the_person_lacks_names_what_they_have(
    env: dict[str, str], tmp_path: Path, ntfy: NtfyServer
) -> None:
    run_env = setup(tmp_path, env, [alice(ntfy)], None)
    result = notify_test(run_env, "alice", "--method", "sms")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: alice has no contact method named or of type 'sms'; "
        "they have email (email), phone (push)"
    )
    assert ntfy.attempts == 0


def test_an_unknown_person_is_one_line_with_a_suggestion(
    env: dict[str, str], tmp_path: Path, ntfy: NtfyServer
) -> None:
    run_env = setup(tmp_path, env, [alice(ntfy)], None)
    result = notify_test(run_env, "alcie")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: unknown person 'alcie' — did you mean 'alice'? "
        "(people are configured in warroom.yaml)"
    )
    assert result.stdout == ""
    assert ntfy.attempts == 0


def test_a_person_without_methods_says_so(env: dict[str, str], tmp_path: Path) -> None:
    run_env = setup(tmp_path, env, [{"id": "bob", "name": "Bob"}], None)
    result = notify_test(run_env, "bob")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: bob has no contact method")
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unverified_method_is_listed_not_sent(
    env: dict[str, str], tmp_path: Path, mailbox: tuple[Mailbox, int], ntfy: NtfyServer
) -> None:
    mail, port = mailbox
    run_env = setup(tmp_path, env, [alice(ntfy)], port)
    database = Database(env["WARROOM_DATABASE_URL"])
    try:
        with database.transaction() as session:
            session.add(
                ContactMethod(
                    person="alice",
                    name="laptop",
                    kind="push",
                    address=ntfy.url("alice-laptop-unverified"),
                    created_at=datetime.now(UTC),
                )
            )
    finally:
        database.dispose()

    result = notify_test(run_env, "alice")

    assert result.exit_code == 0, (result.stdout, result.stderr)  # email and phone went out
    assert ntfy.on("alice-laptop-unverified") == []
    assert len(ntfy.on(TOPIC)) == 1
    assert len(mail.to("alice@example.com")) == 1
    (row,) = [line for line in result.stdout.splitlines() if "laptop" in line]
    assert "not verified" in row

    only = notify_test(run_env, "alice", "--method", "laptop")
    assert only.exit_code == 1
    assert "error: no test page went out to alice" in only.stderr
    assert ntfy.on("alice-laptop-unverified") == []


def test_sms_without_twilio_is_not_configured(env: dict[str, str], tmp_path: Path) -> None:
    person = {"id": "carol", "name": "Carol", "phone": "+4915112344567"}
    run_env = setup(tmp_path, env, [person], None)

    result = notify_test(run_env, "carol", "--method", "sms")

    assert result.exit_code == 1
    (row,) = [line for line in result.stdout.splitlines() if "│ sms" in line]
    assert "+49•••••4567" in row
    assert "not configured: integrations.twilio" in row
    assert "+4915112344567" not in result.stdout + result.stderr
    assert "error: no test page went out to carol" in result.stderr


def test_push_switched_off_is_not_configured(
    env: dict[str, str], tmp_path: Path, ntfy: NtfyServer
) -> None:
    run_env = setup(tmp_path, env, [alice(ntfy)], None)
    config = Path(str(run_env["WARROOM_CONFIG"]))
    config.write_text(config.read_text() + "integrations:\n  push: {enabled: false}\n")

    result = notify_test(run_env, "alice")

    assert result.exit_code == 1
    (row,) = [line for line in result.stdout.splitlines() if "│ phone" in line]
    assert "not configured: integrations.push" in row
    assert ntfy.attempts == 0


def test_help_explains() -> None:
    result = runner.invoke(app, ["notify", "test", "--help"], env=PLAIN)
    assert result.exit_code == 0
    for words in ("PERSON", "--method", "NAME_OR_TYPE", "not verified", "Exit code 0"):
        assert words in result.stdout
