"""`auth.oidc` and `auth.password_sign_in` in warroom.yaml: what is refused, and where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from warroom.auth.oidc_config import OidcConfig
from warroom.config import WarroomConfig, load_config
from warroom.core.errors import ConfigError

GOOD = {
    "issuer": "https://login.example.com/realms/acme",
    "client_id": "warroom",
    "client_secret": "a secret",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"issuer": "http://login.example.com"}, "issuer must be an https:// URL"),
        ({"issuer": "login.example.com"}, "issuer must be an https:// URL"),
        ({"scopes": ["email"]}, "scopes must include openid"),
        ({"algorithms": ["HS256"]}, "algorithms.0"),
        ({"roles": {"ops": "root"}}, "roles.ops"),
        ({"leeway": "10m"}, "leeway must be between 0s and 5m"),
        ({"client_secret": "env:WARROOM_TEST_UNSET_OIDC"}, "WARROOM_TEST_UNSET_OIDC is not set"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_settings_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OidcConfig.model_validate({**GOOD, **change})
    assert message in str(caught.value)


@pytest.mark.parametrize("issuer", ["http://127.0.0.1:8081", "http://localhost:8081/realms/x"])
def test_http_is_fine_on_loopback(issuer: str) -> None:
    assert OidcConfig.model_validate({**GOOD, "issuer": issuer}).issuer == issuer


def test_the_secret_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_OIDC_SECRET", "from the environment")
    config = OidcConfig.model_validate({**GOOD, "client_secret": "env:WARROOM_OIDC_SECRET"})
    assert config.client_secret.get_secret_value() == "from the environment"


def test_password_sign_in_off_needs_single_sign_on() -> None:
    with pytest.raises(ValidationError) as caught:
        WarroomConfig.model_validate({"auth": {"password_sign_in": False}})
    assert "password_sign_in: false needs auth.oidc" in str(caught.value)


def test_highest_role_wins_and_teams_are_mapped() -> None:
    config = OidcConfig.model_validate(
        {
            **GOOD,
            "roles": {"ops": "responder", "leads": "admin", "all": "viewer"},
            "teams": {"ops": "sre", "pay": "payments"},
        }
    )
    assert config.role_of(["all", "leads", "ops"]) == "admin"
    assert config.role_of(["nobody"]) is None
    assert config.teams_of(["pay", "ops", "x"]) == ["payments", "sre"]


def test_config_check_names_an_unknown_team_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(
        "teams:\n"
        "  - {id: sre}\n"
        "auth:\n"
        "  oidc:\n"
        "    issuer: https://login.example.com/realms/acme\n"
        "    client_id: warroom\n"
        "    client_secret: a secret\n"
        "    teams:\n"
        "      wr-sre: sre\n"
        "      wr-security: security\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}:10: auth.oidc.teams.wr-security: unknown team 'security'; known: sre"
    ]
