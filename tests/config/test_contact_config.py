"""Contact methods and notification rules in warroom.yaml: errors and `config check` warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from warroom.config import config_warnings, load_config
from warroom.core.errors import ConfigError

ALICE = """people:
  - id: alice
    name: Alice
    {extra}
"""
TWILIO = """  twilio:
    account_sid: AC0123456789abcdef0123456789abcdef
    auth_token: twilio-auth-token-0123
    {sender}
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    """Return the errors loading `text` as warroom.yaml gives."""
    path = tmp_path / "warroom.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "contact_methods: [{id: mobile, type: sms, to: '0151 1234'}]",
            "'0151 1234' is not a phone number in +E.164 form",
        ),
        (
            "contact_methods: [{id: p, type: push, to: 'not a url'}]",
            "is not a apprise URL",
        ),
        ("contact_methods: [{id: p, type: fax, to: x}]", "contact_methods.0.type"),
        (
            "contact_methods: [{id: sms, type: sms, to: '+4915112345678'}]\n"
            "    phone: '+4915112345678'",
            "contact method id 'sms' is used twice",
        ),
        (
            "notification_rules: [{after: 0m, via: [pager]}]",
            "'pager' is neither a contact method of alice nor a type",
        ),
        (
            "notification_rules: [{after: 5m, via: [chat]}, {after: 1m, via: [email]}]",
            "notification rule steps must be in order of `after`",
        ),
    ],
)
def test_bad_methods_and_rules_are_named(tmp_path: Path, extra: str, expected: str) -> None:
    found = problems(tmp_path, ALICE.format(extra=extra))
    assert any(expected in line for line in found), found


def test_default_rules_name_types_and_known_severities(tmp_path: Path) -> None:
    found = problems(tmp_path, "notifications:\n  rules:\n    SEV-9: [{via: [sms]}]\n")
    assert any("notifications.rules.SEV-9: unknown severity 'SEV-9'" in p for p in found), found
    found = problems(tmp_path, "notifications:\n  rules:\n    default: [{via: [mobile]}]\n")
    assert any("'mobile' is not a contact method type" in p for p in found), found


def test_config_check_names_who_no_method_reaches(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(
        ALICE.format(extra="phone: '+4915112345678'\n    notification_rules: [{via: [sms]}]")
        + "escalation_policies:\n  - {id: p, steps: [{notify: [person:alice]}]}\n"
        + "notifications: {default_policy: p}\n"
    )
    [line] = [w for w in config_warnings(load_config(path)) if "alice" in w]
    assert line == (
        "alice can be paged by escalation policy 'p' but no channel can reach them "
        "(no SMS configured)"
    )
    # With Twilio set up, she is reachable; without a base_url Twilio cannot call back.
    path.write_text(
        path.read_text()
        + "integrations:\n"
        + TWILIO.format(sender="messaging_service_sid: MG0123456789abcdef0123456789abcdef")
    )
    warnings = config_warnings(load_config(path))
    assert not [w for w in warnings if "alice" in w]
    assert (
        "integrations.twilio is set but notifications.base_url is not: Twilio cannot report "
        "deliveries nor pass on replies and key presses, and pages carry no acknowledge link"
    ) in warnings
    assert any("voice calls cannot be placed" in w for w in warnings)


def test_severity_defaults_say_which_severity_misses_someone(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(
        ALICE.format(extra="slack: U0ALICE")
        + "escalation_policies:\n  - {id: p, steps: [{notify: [person:alice]}]}\n"
        + "notifications:\n  default_policy: p\n"
        + "  rules:\n    SEV-1: [{via: [voice]}]\n    default: [{via: [chat]}]\n"
        + "integrations:\n  slack: {bot_token: xoxb-0123456789, channel: '#ir',"
        + " signing_secret: slack-signing-secret-01234}\n"
    )
    [line] = [w for w in config_warnings(load_config(path)) if "alice" in w]
    assert line.endswith("(SEV-1: no voice configured)")
