"""No operation ignores authentication (issue 15, item 5).

Every operation of the OpenAPI document outside a short public allow-list is called without
a credential and with bad ones, every intake configured: each must refuse (401; intake routes,
which check their integration's own token or signature, 401 or 403). An operation must also
declare its security scheme unless it checks its own credential.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from warroom.config import WarroomConfig
from warroom.runtime import Runtime


@pytest.fixture
def config() -> WarroomConfig:
    """Every intake configured, so each answers for its credential rather than 404."""
    hmac = [{"name": "main", "secret": "s3cret-hmac-value-0123456789"}]
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "ada", "name": "Ada"}],
            "services": [{"id": "monitoring"}],
            "heartbeats": [
                {
                    "id": "watchdog",
                    "service": "monitoring",
                    "interval": "1m",
                    "grace": "30s",
                    "severity": "SEV-2",
                    "token": "hb-token-0123456789",
                }
            ],
            "integrations": {
                "alertmanager": [{"name": "main", "token": "am-token-0123456789"}],
                "webhook": [{"name": "main", "token": "wh-token-0123456789"}],
                "grafana": hmac,
                "pagerduty": hmac,
                "jira": hmac,
                "slack": {"signing_secret": "slack-signing-0123456789abcdef"},
                "twilio": {
                    "account_sid": "AC" + "0" * 32,
                    "auth_token": "twilio-token-0123456789",
                    "from": "+15005550006",
                },
            },
            # Twilio's routes check signatures over the public URL: 404 without one.
            "notifications": {"base_url": "https://warroom.example.com"},
        }
    )


# Operations anyone may call (health, metrics, sign-in and out, the OIDC redirects, the
# public status): the short allow-list. Everything else must refuse a caller without a valid
# credential. Intake routes check their integration's own token or signature (401 or 403).
PUBLIC = {
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /api/v1/status",
    "POST /api/v1/auth/sign-in",
    "POST /api/v1/auth/sign-out",
    "GET /api/v1/auth/oidc/start",
    "GET /api/v1/auth/oidc/callback",
}
SELF_AUTHENTICATED = ("/api/v1/intake/", "/ical")  # their own token, signature or ?token=
SAMPLES = {
    "{action}": "resolve",
    "{name}": "echo",
    "{item_id}": "1",
    "{silence_id}": "1",
    "{notification_id}": "1",
    "{schedule_id}": "primary",
    "{person_id}": "ada",
    "{override_id}": "1",
    "{heartbeat_id}": "watchdog",
    "{drill_id}": "1",
}
# No credential, a made-up token of the right shape, a malformed header, a wrong scheme and
# a made-up session cookie: each must be refused, before any body or parameter is looked at.
BAD_CREDENTIALS: list[tuple[dict[str, str], dict[str, str]]] = [
    ({}, {}),
    ({"Authorization": "Bearer wr_" + "A" * 43}, {}),
    ({"Authorization": "Bearer"}, {}),
    ({"Authorization": "Basic YWRhOmFkYQ=="}, {}),
    ({}, {"warroom_session": "x" * 43}),
]


def test_no_operation_ignores_authentication(
    runtime: Runtime, tokens: dict[str, str], client: TestClient
) -> None:
    """Every operation outside the allow-list answers 401 (intake: 401/403) without a credential."""
    made = client.post(
        "/api/v1/incidents",
        json={"title": "Auth target", "severity": "SEV-3"},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    assert made.status_code == 201, made.text
    spec = client.get("/openapi.json").json()
    seen: set[str] = set()
    refused = 0
    for template, operations in spec["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {template}"
            seen.add(label)
            if label in PUBLIC:
                continue
            # Declared too: an operation needs a security scheme unless it checks its own.
            own = any(part in template for part in SELF_AUTHENTICATED)
            assert own or operation.get("security"), f"{label} declares no authentication"
            path = template.replace("{ref}", made.json()["ref"])
            for name, value in SAMPLES.items():
                path = path.replace(name, value)
            for headers, cookies in BAD_CREDENTIALS:
                client.cookies.clear()
                for key, value in cookies.items():
                    client.cookies.set(key, value)
                answer = client.request(method.upper(), path, headers=headers, json={})
                allowed = {401, 403} if "/intake/" in template else {401}
                assert answer.status_code in allowed, (label, headers, cookies, answer.text)
                refused += 1
    client.cookies.clear()
    assert seen >= PUBLIC, PUBLIC - seen  # the allow-list names real operations only
    assert refused >= 5 * 60  # the whole document was walked
