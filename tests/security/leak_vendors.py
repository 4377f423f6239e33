"""The secrets and loopback vendors of the secret-leak test: every integration configured,
each secret given as `env:NAME` or `file:/PATH`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.notify.pagerduty_events_server import PagerDutyEventsServer
from tests.notify.slack_server import SlackServer
from tests.notify.statuspage_server import PAGE_ID, StatuspageServer
from tests.notify.vendors import Vendors, running_vendors

# Each integration secret, distinctive enough that a match is never chance.
SECRETS = {
    "alertmanager_token": "amtok-Q7vX2pL9rT4kW8zN1cB5",
    "webhook_token": "whtok-H3sD6fJ0gK2lP5qR8tV1",
    "grafana_secret": "grsec-M4nB7vC1xZ9aS2dF5gH8",
    "pagerduty_secret": "pdsec-Y6tR3eW0qU9iO2pL5kJ8",
    "jira_secret": "jisec-E1rT4yU7iO0pA3sD6fG9",
    "slack_signing": "slsig-Z8xC5vB2nM9qW6eR3tY0",
    "slack_bot": "xoxb-111111111-222222222-Sl4ckB0tT0kenX9q",
    "smtp_password": "smtpw-K5jH8gF1dS4aL7kJ0hG3",
    "zoom_account": "zmacc-P2oI5uY8tR1eW4qA7sD0",
    "zoom_client_id": "zmcid-L9kJ6hG3fD0sA7pO4iU1",
    "zoom_secret": "zmsec-C3vB6nM9xZ2aQ5wE8rT1",
    "pd_routing": "Rk0123456789abcdefPDroutingKey32",
    "statuspage_key": "spkey-N7bV4cX1zL8kJ5hG2fD9",
    "hook_secret": "hksec-F6gH9jK2lQ5wE8rT1yU4iO7",
    "jira_api_token": "jitok-U2iO5pA8sD1fG4hJ7kL0",
}
FROM_ENV = {"alertmanager_token", "grafana_secret", "jira_secret", "slack_bot", "smtp_password"}
FROM_ENV |= {"zoom_account", "zoom_client_id", "pd_routing", "hook_secret"}
PASSWORD = "Corr3ct-h0rse-b4ttery-st4ple"
WRONG_PASSWORD = "Wr0ng-passw0rd-typ3d-by-m1stake"
RITA_PASSWORD = "R1ta-enr0ls-a-sec0nd-fact0r"
SMTP_USER = "warroom-mailer"


def ref(name: str, etc: Path) -> str:
    """Return the configuration's reference to a secret: env:NAME or file:/PATH."""
    if name in FROM_ENV:
        return f"env:WR_TEST_{name.upper()}"
    path = etc / f"{name}.secret"
    path.write_text(SECRETS[name] + "\n")
    path.chmod(0o600)
    return f"file:{path}"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: Any, data: Any) -> Any:
    """Accept the mailer's user and password only."""
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        SMTP_USER.encode(),
        SECRETS["smtp_password"].encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def vendors() -> Iterator[Vendors]:
    """Start the loopback vendors and a real SMTP server that wants the password."""
    with running_vendors(
        zoom={
            "account_id": SECRETS["zoom_account"],
            "client_id": SECRETS["zoom_client_id"],
            "client_secret": SECRETS["zoom_secret"],
        },
        hook_secret=SECRETS["hook_secret"],
        slack=SlackServer(SECRETS["slack_bot"]),
        pager=PagerDutyEventsServer((SECRETS["pd_routing"],)),
        statuspage=StatuspageServer(api_key=SECRETS["statuspage_key"]),
        authenticator=authenticator,
        auth_required=True,  # no mail without the password: it must cross the socket
        auth_require_tls=False,  # loopback only
    ) as started:
        yield started


def configuration(vendors: Vendors, etc: Path) -> dict[str, Any]:
    """warroom.yaml: every integration, each secret by env: or file: reference."""
    hmac_intake = {"pagerduty": "pagerduty_secret", "jira": "jira_secret"}
    return {
        "people": [
            {"id": "alice", "name": "Alice", "email": "alice@example.com", "slack": "UALICE1"},
            {"id": "carol", "name": "Carol", "email": "carol@example.com", "slack": "UCAROL1"},
        ],
        "teams": [{"id": "payments", "members": ["alice"], "leads": ["carol"]}],
        "schedules": [
            {
                "id": "payments",
                "timezone": "UTC",
                "layers": [
                    {"name": "primary", "rotation": {"every": "1w", "participants": ["alice"]}}
                ],
            }
        ],
        "services": [{"id": "checkout", "team": "payments", "schedule": "payments"}],
        "integrations": {
            "alertmanager": [{"name": "prod", "token": ref("alertmanager_token", etc)}],
            "webhook": [{"name": "ci", "token": ref("webhook_token", etc)}],
            "grafana": [{"name": "main", "secret": ref("grafana_secret", etc)}],
            **{
                kind: [{"name": "main", "secret": ref(name, etc)}]
                for kind, name in hmac_intake.items()
            },
            "slack": {
                "signing_secret": ref("slack_signing", etc),
                "bot_token": ref("slack_bot", etc),
                "base_url": vendors.slack.url,
                "timeout": 3,
            },
            "smtp": {
                "host": "127.0.0.1",
                "port": vendors.smtp_port,
                "from": "warroom@example.com",
                "username": SMTP_USER,
                "password": ref("smtp_password", etc),
                "timeout": 3,
            },
            "zoom": {
                "account_id": ref("zoom_account", etc),
                "client_id": ref("zoom_client_id", etc),
                "client_secret": ref("zoom_secret", etc),
                "oauth_url": vendors.zoom.url,
                "api_url": vendors.zoom.url,
                "timeout": 3,
            },
            "pagerduty_events": {
                "routing_key": ref("pd_routing", etc),
                "url": vendors.pager.url,
                "timeout": 3,
            },
            "statuspage": {
                "api_key": ref("statuspage_key", etc),
                "page_id": PAGE_ID,
                "base_url": vendors.statuspage.url,
                "components": {"checkout": "cmpcheckout01"},
                "timeout": 3,
            },
            "outgoing_webhooks": [
                {
                    "name": "ops",
                    "url": vendors.hooks.url,
                    "secret": ref("hook_secret", etc),
                    "timeout": 3,
                }
            ],
            "jira_issues": {
                # Never called here (no action item asks for an issue): its token only loads.
                "base_url": "http://127.0.0.1:9",
                "deployment": "cloud",
                "email": "bot@example.com",
                "api_token": ref("jira_api_token", etc),
                "project": "OPS",
            },
        },
        "notifications": {
            "announce_channel": "#incident-response",
            "executives": ["cto@example.com"],
        },
        "status_page": {
            "components": [{"id": "checkout", "name": "Checkout", "services": ["checkout"]}]
        },
    }
