"""`/api/v1/me/contact-methods` and `/api/v1/me/notification-rules` over HTTP, with the code
sent through the loopback Slack server and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import free_port, make_token, need
from tests.notify.ntfy_server import NtfyServer
from tests.notify.slack_server import SlackServer
from tests.notify.vendors import Controller, Mailbox
from warroom.api.contact_flows import spoken
from warroom.audit import service as audit
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.escalation.models import ContactMethod, PersonalRules
from warroom.notify.ports import Adapters
from warroom.notify.push import ApprisePush
from warroom.notify.push_config import PushConfig
from warroom.runtime import Runtime

CODE = re.compile(r"Your warroom verification code is (\d{6}) \(valid 15 minutes\)\.")
API = "/api/v1/me/contact-methods"
RULES = "/api/v1/me/notification-rules"


class Vendors:
    """The loopback Slack server and aiosmtpd, for one test."""

    def __init__(self) -> None:
        need(Controller is not None, "aiosmtpd is not installed")
        self.slack = SlackServer().start()
        self.mail, self.smtp_port = Mailbox(), free_port()
        self.smtp = Controller(self.mail, hostname="127.0.0.1", port=self.smtp_port)
        self.smtp.start()

    def stop(self) -> None:
        """Stop both."""
        self.slack.stop()
        self.smtp.stop()

    def slack_code(self, user: str) -> str:
        """Return the last code posted to `user`'s direct messages."""
        texts = [m["text"] for m in self.slack.messages(f"D{user}")]
        found = CODE.search(texts[-1])
        assert found, texts
        return found.group(1)

    def mail_code(self, address: str) -> str:
        """Return the last code mailed to `address`."""
        message = self.mail.to(address)[-1]
        assert message["Subject"] == "Your warroom verification code"
        found = CODE.search(message.get_content())
        assert found
        return found.group(1)


@pytest.fixture(name="vendors")
def vendors_fixture() -> Iterator[Vendors]:
    """Slack and SMTP, running."""
    running = Vendors()
    yield running
    running.stop()


@pytest.fixture
def config(vendors: Vendors) -> WarroomConfig:
    """Lena (a person, with an e-mail address in warroom.yaml); Slack and SMTP; no Twilio."""
    return WarroomConfig.model_validate(
        {
            "people": [
                {"id": "lena", "name": "Lena", "email": "lena@example.com"},
                {"id": "vic", "name": "Vic"},
            ],
            "integrations": {
                "slack": {
                    "signing_secret": "s" * 32,
                    "bot_token": vendors.slack.token,
                    "base_url": vendors.slack.url,
                    "timeout": 30,
                },
                "smtp": {
                    "host": "127.0.0.1",
                    "port": vendors.smtp_port,
                    "from": "warroom@example.com",
                    "timeout": 30,
                },
                "push": {"enabled": False, "private_hosts": True},  # the loopback ntfy
            },
        }
    )


@pytest.fixture
def lena(client: TestClient, runtime: Runtime) -> TestClient:
    """A client with lena's token (a responder)."""
    client.headers["Authorization"] = f"Bearer {make_token(runtime, 'lena', 'responder')}"
    return client


def rows(runtime: Runtime) -> list[ContactMethod]:
    """Return every contact method row."""
    with runtime.db.session() as session:
        found = list(session.scalars(select(ContactMethod)))
        session.expunge_all()
        return found


def entries(runtime: Runtime, action: str) -> list[Any]:
    """Return the audit entries of `action`, oldest first."""
    with runtime.db.session() as session:
        found = audit.entries(session, action=action)
        session.expunge_all()
        return list(reversed(found))


def test_add_by_slack_verify_and_list(
    lena: TestClient, runtime: Runtime, vendors: Vendors, caplog: pytest.LogCaptureFixture
) -> None:
    # INFO, as the server logs by default (slack_sdk's own DEBUG lines show every body).
    caplog.set_level(logging.INFO)
    added = lena.post(API, json={"name": "work-slack", "type": "chat", "to": "ULENA9"})
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["verified"] is False and body["to"] == "ULENA9" and body["source"] == "own"
    assert body["message"].startswith("a code was sent to ULENA9")
    code = vendors.slack_code("ULENA9")
    assert code not in added.text
    [row] = rows(runtime)
    assert row.code_hash is not None and code not in row.code_hash
    wrong = "000000" if code != "000000" else "111111"
    refused = lena.post(f"{API}/work-slack/verify", json={"code": wrong})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == "wrong code for 'work-slack'; 4 attempt(s) left"
    done = lena.post(f"{API}/work-slack/verify", json={"code": code})
    assert done.status_code == 200, done.text
    assert done.json()["verified"] is True
    listed = lena.get(API).json()
    assert listed["limit"] == 10
    assert [(m["name"], m["source"], m["read_only"], m["verified"]) for m in listed["methods"]] == [
        ("email", "warroom.yaml", True, True),
        ("work-slack", "own", False, True),
    ]
    assert [e.outcome for e in entries(runtime, "contact.verify")] == ["failed", "ok"]
    [add_entry] = entries(runtime, "contact.add")
    assert add_entry.actor == "lena" and add_entry.target == "lena/work-slack"
    assert code not in caplog.text and code not in str(add_entry.details)


def test_add_by_email_through_smtp_and_resend(
    lena: TestClient, runtime: Runtime, vendors: Vendors, clock: FrozenClock
) -> None:
    added = lena.post(API, json={"name": "home", "type": "email", "to": "lena@home.example"})
    assert added.status_code == 201, added.text
    first = vendors.mail_code("lena@home.example")
    early = lena.post(f"{API}/home/resend")
    assert early.status_code == 409
    assert "ask again in 30 s" in early.json()["error"]["message"]
    clock.advance(timedelta(seconds=30))
    again = lena.post(f"{API}/home/resend")
    assert again.status_code == 200, again.text
    assert len(vendors.mail.to("lena@home.example")) == 2
    second = vendors.mail_code("lena@home.example")
    if second != first:
        assert lena.post(f"{API}/home/verify", json={"code": first}).status_code == 422
    assert lena.post(f"{API}/home/verify", json={"code": second}).status_code == 200


def test_sms_without_twilio_is_409_and_nothing_is_written(
    lena: TestClient, runtime: Runtime
) -> None:
    answer = lena.post(API, json={"name": "mobile", "type": "sms", "to": "+491511234567"})
    assert answer.status_code == 409
    message = answer.json()["error"]["message"]
    assert message.startswith("SMS is not configured (integrations.twilio)")
    push = lena.post(API, json={"name": "phone", "type": "push", "to": "ntfys://ntfy.sh/x"})
    assert push.json()["error"]["message"].startswith("push is not configured (integrations.push)")
    assert rows(runtime) == []


def test_a_send_that_fails_is_502_and_keeps_nothing(
    lena: TestClient, runtime: Runtime, vendors: Vendors
) -> None:
    vendors.slack.fail(status=500, times=10)
    answer = lena.post(API, json={"name": "work-slack", "type": "chat", "to": "ULENA9"})
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "send_failed"
    assert error["message"].startswith("the code could not be sent to 'work-slack': Slack")
    assert rows(runtime) == []
    [entry] = entries(runtime, "contact.add")
    assert entry.outcome == "failed" and entry.details["reason"].startswith("Slack")


def test_bad_input_is_a_clear_4xx(lena: TestClient, runtime: Runtime) -> None:
    cases = [
        ({"name": "sms", "type": "email", "to": "a@b.example"}, 422, "is a type of contact"),
        ({"name": "x" * 40, "type": "email", "to": "a@b.example"}, 422, "is not 1 to 32 of a-z"),
        ({"name": "x", "type": "fax", "to": "1"}, 422, "unknown contact method type 'fax'"),
        ({"name": "x", "type": "email", "to": "nope"}, 422, "'nope' is not a e-mail address"),
    ]
    for body, status, said in cases:
        answer = lena.post(API, json=body)
        assert answer.status_code == status, (body, answer.text)
        assert said in answer.json()["error"]["message"], answer.text
    missing = lena.post(f"{API}/nothing/verify", json={"code": "123456"})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "you have no contact method named 'nothing'"
    assert lena.delete(f"{API}/email").status_code == 409
    assert rows(runtime) == []


def test_callers_that_are_not_people_get_409(client: TestClient, runtime: Runtime) -> None:
    client.headers["Authorization"] = f"Bearer {make_token(runtime, 'ada', 'admin')}"
    answer = client.get(API)
    assert answer.status_code == 409
    said = answer.json()["error"]["message"]
    assert "ada is not a person under `people:` in warroom.yaml" in said


def test_a_viewer_may_set_up_methods_but_a_read_token_may_not_change_them(
    client: TestClient, runtime: Runtime, vendors: Vendors
) -> None:
    with runtime.db.transaction() as session:
        from warroom.auth import service as auth

        user = auth.create_user(session, name="vic", role="viewer", now=runtime.clock.now())
        write = auth.create_token(session, user=user, name="rw", now=runtime.clock.now())
        read = auth.create_token(
            session, user=user, name="ro", now=runtime.clock.now(), scopes=("read",)
        )
    body = {"name": "mail", "type": "email", "to": "vic@example.com"}
    refused = client.post(API, json=body, headers={"Authorization": f"Bearer {read}"})
    assert refused.status_code == 403 and "needs write" in refused.json()["error"]["message"]
    listed = client.get(API, headers={"Authorization": f"Bearer {read}"})
    assert listed.status_code == 200 and listed.json()["methods"] == []
    added = client.post(API, json=body, headers={"Authorization": f"Bearer {write}"})
    assert added.status_code == 201, added.text


def test_rules_set_show_clear(lena: TestClient, runtime: Runtime, vendors: Vendors) -> None:
    defaults = lena.get(RULES).json()
    assert defaults["source"] == "notifications.rules" and defaults["steps"] == []
    assert set(defaults["by_severity"]) == {"SEV-1", "SEV-2", "SEV-3", "SEV-4"}
    lena.post(API, json={"name": "work-slack", "type": "chat", "to": "ULENA9"})
    steps = [{"after": "0m", "via": ["email"]}, {"after": "2m", "via": ["work-slack", "sms"]}]
    answer = lena.put(RULES, json={"steps": steps})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["source"] == "own"
    assert body["steps"][1] == {"after": "2m", "after_seconds": 120, "via": ["work-slack", "sms"]}
    assert body["warnings"] == [
        "work-slack is not verified yet: pages skip it until it is",
        "you have no SMS contact method: `sms` reaches nobody",
    ]
    assert lena.get(RULES).json()["source"] == "own"
    bad = lena.put(RULES, json={"steps": [{"after": "2m", "via": ["pager"]}]})
    assert bad.status_code == 422
    assert bad.json()["error"]["message"].startswith("step 1: 'pager' is neither one of your")
    removed = lena.delete(f"{API}/work-slack")
    assert removed.status_code == 200
    assert removed.json()["warnings"][0].startswith("your notification rules name 'work-slack'")
    cleared = lena.delete(RULES)
    assert cleared.status_code == 200 and cleared.json()["source"] == "notifications.rules"
    assert lena.delete(RULES).status_code == 404
    with runtime.db.session() as session:
        assert session.scalars(select(PersonalRules)).all() == []
    actions = [e.action for e in entries(runtime, "rules.")]
    assert actions == ["rules.set", "rules.clear"]
    assert [e.action for e in entries(runtime, "contact.remove")] == ["contact.remove"]


def test_a_push_code_goes_through_apprise_to_ntfy(lena: TestClient, runtime: Runtime) -> None:
    runtime.adapters_override = Adapters(push=ApprisePush(PushConfig()))
    with NtfyServer() as server:
        added = lena.post(API, json={"name": "phone", "type": "push", "to": server.url("lena")})
        assert added.status_code == 201, added.text
        [message] = server.on("lena")
        found = CODE.search(message["message"])
        assert found, message
        done = lena.post(f"{API}/phone/verify", json={"code": found.group(1)})
        assert done.json()["verified"] is True
    refused = lena.post(API, json={"name": "hook", "type": "push", "to": "json://10.0.0.1/x"})
    assert refused.status_code == 422 and "json:// are not allowed" in refused.text


def test_a_call_reads_the_digits_slowly_twice() -> None:
    said = spoken("120034")
    assert said.count("1, 2, 0, 0, 3, 4") == 2 and "120034" not in said


def test_at_most_ten_codes_an_hour(lena: TestClient, vendors: Vendors, clock: FrozenClock) -> None:
    added = lena.post(API, json={"name": "home", "type": "email", "to": "lena@home.example"})
    assert added.status_code == 201, added.text
    for _ in range(9):
        clock.advance(timedelta(seconds=30))
        assert lena.post(f"{API}/home/resend").status_code == 200
    clock.advance(timedelta(seconds=30))
    refused = lena.post(f"{API}/home/resend")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["message"] == (
        "10 codes were sent to your contact methods in the last hour; try again in 55 minute(s)"
    )
    assert error["details"]["retry_after"] == 3600 - 300
    other = lena.post(API, json={"name": "work", "type": "email", "to": "lena@work.example"})
    assert other.status_code == 429
    assert len(vendors.mail.to("lena@home.example")) == 10 and not vendors.mail.to(
        "lena@work.example"
    )
    clock.advance(timedelta(seconds=3600 - 300))
    assert lena.post(f"{API}/home/resend").status_code == 200
