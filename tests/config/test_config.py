"""warroom.yaml: the example passes, mistakes are reported as file:line: message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from warroom.cli.main import app
from warroom.config import load_config
from warroom.core.errors import ConfigError
from warroom.settings import Settings, normalise_database_url

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "warroom.yaml"
EXAMPLE_SECRETS = (
    "WARROOM_AM_TOKEN",
    "WARROOM_WEBHOOK_TOKEN",
    "WARROOM_GRAFANA_SECRET",
    "WARROOM_PAGERDUTY_SECRET",
    "WARROOM_JIRA_SECRET",
    "SLACK_SIGNING_SECRET",
    "SLACK_BOT_TOKEN",
    "WARROOM_SMTP_PASSWORD",
    "ZOOM_ACCOUNT_ID",
    "ZOOM_CLIENT_ID",
    "ZOOM_CLIENT_SECRET",
    "PAGERDUTY_ROUTING_KEY",
    "STATUSPAGE_API_KEY",
    "WARROOM_HOOK_CHATOPS_SECRET",
    "JIRA_API_TOKEN",
    "TWILIO_AUTH_TOKEN",
)
EXAMPLE_SECRETS += ("IDENTITY_API_TOKEN", "FLAGS_API_TOKEN")  # actions:
# Secrets whose form is checked: a Slack bot token, a 32-character PagerDuty routing key.
EXAMPLE_SECRET_VALUES = {
    "SLACK_BOT_TOKEN": "xoxb-secret-of-slack_bot_token",
    "PAGERDUTY_ROUTING_KEY": "secret-of-pagerduty-routing-key0",
}


@pytest.fixture(autouse=True)
def example_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example reads its secrets from the environment."""
    for name in EXAMPLE_SECRETS:
        monkeypatch.setenv(name, EXAMPLE_SECRET_VALUES.get(name, f"secret-of-{name.lower()}"))


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert list(config.severities) == ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
    assert config.severities["SEV-1"].description.startswith("System-wide outage")
    assert config.incident_type("security") is not None
    assert config.service("checkout") is not None
    assert config.integrations.alertmanager[0].token.get_secret_value() == (
        "secret-of-warroom_am_token"
    )
    assert len(config.routes) == 5 and config.routes[0].heartbeat == "alertmanager"
    assert config.heartbeat("alertmanager") is not None


def test_missing_secret_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WARROOM_AM_TOKEN")
    with pytest.raises(ConfigError) as caught:
        load_config(EXAMPLE)
    assert any(
        "environment variable WARROOM_AM_TOKEN is not set" in p for p in caught.value.problems
    )


def test_defaults_follow_the_runbook() -> None:
    config = load_config(None)
    assert {k: v.name for k, v in config.severities.items()} == {
        "SEV-1": "Critical",
        "SEV-2": "High",
        "SEV-3": "Medium",
        "SEV-4": "Low",
    }
    assert config.severities["SEV-2"].exec_email and not config.severities["SEV-3"].exec_email


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("severities:\n  SEV-1: {name: X}\n", ":2: severities.SEV-1.description: Field required"),
        (
            "severities:\n  P1: {name: X, description: y}\n",
            ":2: severities: severity 'P1' must look like SEV-1",
        ),
        ("incident_types:\n  - {id: a}\n  - {id: a}\n", "incident type 'a' is defined twice"),
        (
            "incident_types:\n  - id: a\n    default_severity: SEV-9\n",
            ":3: incident_types.0.default_severity: unknown severity 'SEV-9'",
        ),
        ("priorities: P1\n", ":1: priorities: Input should be a valid list"),
        ("severities: [\n", ":2: invalid YAML"),
        ("- a\n- b\n", ":1: the top level must be a mapping"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any(p.startswith(str(path)) and expected in p for p in caught.value.problems), (
        caught.value.problems
    )


def test_config_check_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["config", "check", str(EXAMPLE)])
    assert ok.exit_code == 0 and "ok — 4 severities" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("severities:\n  SEV-1: {name: X}\n")
    result = runner.invoke(app, ["config", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2: severities.SEV-1.description: Field required" in result.output
    missing = runner.invoke(app, ["config", "check", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_config_check_warns_of_settings_that_cannot_work(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "warroom.yaml"
    path.write_text("notifications:\n  executives: [cto@example.com]\n")
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0 and "ok — 4 severities" in result.stdout
    warnings = result.stderr.splitlines()
    assert warnings == [
        "warning: notifications.executives is set but integrations.smtp is not: executive "
        "summaries are not sent",
        "warning: notifications.page_via is chat, email but neither "
        "integrations.slack.bot_token nor integrations.smtp is configured: pages reach no one "
        "(the escalation still runs and shows on each incident)",
    ]
    path.write_text(
        "notifications:\n  executives: [cto@example.com]\n  page_via: [email]\n"
        "integrations:\n  smtp: {host: 127.0.0.1, from: warroom@example.com}\n"
    )
    quiet = runner.invoke(app, ["config", "check", str(path)])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    example = runner.invoke(app, ["config", "check", str(EXAMPLE)])
    assert example.stderr == ""  # the example configures what it uses


def test_database_url_defaults_and_normalisation(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None)
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path.resolve()}/warroom.db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"


def test_people_teams_and_service_links(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(
        "people:\n"
        "  - {id: alice, name: Alice Ng, email: alice@example.com, slack: U024BE7LH,"
        " timezone: Europe/Berlin}\n"
        "  - {id: bob, name: Bob Ruiz}\n"
        "teams:\n"
        "  - {id: payments, members: [alice, bob], leads: [carol]}\n"
        "services:\n"
        "  - {id: checkout, team: billing}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}:5: teams.0.leads.0: unknown person 'carol'" in caught.value.problems
    assert f"{path}:7: services.0.team: unknown team 'billing'" in caught.value.problems


@pytest.mark.parametrize(
    ("person", "needle"),
    [
        ("{id: a, name: A, timezone: Mars/Base}", "unknown time zone 'Mars/Base'"),
        ("{id: a, name: A, email: not-an-email}", "people.0.email"),
        ("{id: A B, name: A}", "people.0.id"),
        ("{id: a}", "people.0.name: Field required"),
    ],
)
def test_bad_people(tmp_path: Path, person: str, needle: str) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(f"people:\n  - {person}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any(needle in p and p.startswith(f"{path}:2:") for p in caught.value.problems), (
        caught.value.problems
    )


def test_duplicate_person(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text("people:\n  - {id: a, name: A}\n  - {id: a, name: B}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}:3: people.1.id: person 'a' is defined twice" in caught.value.problems


def test_schedules_reference_known_people_and_services_known_schedules(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(
        "people:\n"
        "  - {id: alice, name: Alice}\n"
        "schedules:\n"
        "  - id: payments\n"
        "    timezone: Europe/Berlin\n"
        "    layers:\n"
        "      - name: primary\n"
        "        rotation: {every: 1w, participants: [alice, zed]}\n"
        "services:\n"
        "  - {id: checkout, schedule: billing}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (
        f"{path}:8: schedules.0.layers.0.rotation.participants.1: unknown person 'zed'"
        " (add it under people:)"
    ) in caught.value.problems
    assert f"{path}:10: services.0.schedule: unknown schedule 'billing'" in caught.value.problems


@pytest.mark.parametrize(
    ("schedule", "needle"),
    [
        (
            "{id: s, timezone: Mars/Base, layers: [{name: p, rotation: {participants: [a]}}]}",
            "Mars/Base",
        ),
        (
            "{id: s, timezone: UTC, layers: [{name: p, rotation: {participants: []}}]}",
            "participants",
        ),
        ("{id: s, timezone: UTC, layers: []}", "layers"),
    ],
)
def test_bad_schedules_fail_config_check(tmp_path: Path, schedule: str, needle: str) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(f"people:\n  - {{id: a, name: A}}\nschedules:\n  - {schedule}\n")
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert f"{path}:4: schedules.0" in result.output and needle in result.output


def test_config_check_counts_in_words(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(
        "people:\n  - {id: lena, name: Lena, email: lena@example.com}\n"
        "services:\n  - {id: checkout}\n"
        "escalation_policies:\n  - id: ops\n    steps: [{after: 0m, notify: [person:lena]}]\n"
        "integrations:\n  smtp: {host: 127.0.0.1, from: warroom@example.com}\n"
    )
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 service, 1 person, 0 teams" in result.stdout
    # Outgoing integrations count too: SMTP alone is one.
    assert "1 escalation policy, 0 routes, 0 heartbeats, 1 integration" in result.stdout
    assert "1 services" not in result.stdout
    assert "drill participant" not in result.stdout  # drills page the rotation by default


def test_config_check_counts_heartbeats_and_drill_participants(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(
        "people:\n  - {id: lena, name: Lena}\n  - {id: omar, name: Omar}\n"
        "services:\n  - {id: monitoring}\n"
        "heartbeats:\n"
        "  - {id: watchdog, service: monitoring, interval: 1m}\n"
        "  - {id: nightly-backup, service: monitoring, interval: 1d}\n"
        "drills:\n  participants: [lena]\n"
    )
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "0 routes, 2 heartbeats, 0 integrations, 1 drill participant\n" in result.stdout


PAGED_PEOPLE = (
    "people:\n"
    "  - {id: lena, name: Lena, email: lena@example.com}\n"
    "  - {id: priya, name: Priya, slack: U0PRIYA1}\n"
    "  - {id: omar, name: Omar}\n"  # on no rota and in no policy: never paged
    "teams:\n  - {id: payments, members: [lena, priya], leads: [priya]}\n"
    "schedules:\n  - id: payments\n    timezone: UTC\n    layers:\n"
    "      - {name: primary, rotation: {every: 1w, participants: [lena]}}\n"
    "services:\n  - {id: checkout, team: payments, schedule: payments}\n"
    "  - {id: search, escalation: search}\n"
    "escalation_policies:\n  - id: search\n    steps:\n"
    "      - {after: 0m, notify: ['person:priya', 'channel:#search']}\n"
)


def test_config_check_names_whom_no_channel_reaches(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(PAGED_PEOPLE)
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0 and "ok — 4 severities" in result.stdout  # warnings only
    assert result.stderr.splitlines()[1:] == [
        "warning: priya can be paged by escalation policies 'search' and the built-in one but "
        "no channel can reach them (no Slack/e-mail configured)",
        "warning: lena can be paged by the built-in escalation policy but no channel can reach "
        "them (no Slack/e-mail configured)",
        "warning: escalation policy 'search' posts to #search but integrations.slack.bot_token "
        "is not set: those posts are skipped",
    ]
    # With e-mail set up, lena is reached; priya (a Slack id only) is not, and it says why.
    path.write_text(
        PAGED_PEOPLE + "integrations:\n  smtp: {host: 127.0.0.1, from: warroom@example.com}\n"
    )
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0
    assert [line for line in result.stderr.splitlines() if "priya" in line or "lena" in line] == [
        "warning: priya can be paged by escalation policies 'search' and the built-in one but "
        "no channel can reach them (they have no e-mail address under people:; "
        "no Slack configured)",
    ]


def test_config_check_warns_of_an_access_team_that_does_not_exist(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(
        "people:\n  - {id: lena, name: Lena, email: lena@example.com}\n"
        "teams:\n  - {id: secops, members: [lena]}\n"
    )
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert "access" not in result.stderr  # the built-in types: a safe default, not a mistake
    path.write_text(
        path.read_text()
        + "incident_types:\n  - {id: security, restricted: true, access_teams: [security]}\n"
    )
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert (
        "warning: incident type 'security' lets team 'security' see its restricted incidents, "
        "but there is no such team under teams: only admins and participants will see them"
    ) in result.stderr


def test_config_check_warns_of_a_timeout_longer_than_half_the_claim_lease(tmp_path: Path) -> None:
    # A send that hangs past its lease is taken over by another engine and sent twice.
    runner = CliRunner()
    path = tmp_path / "warroom.yaml"
    smtp = "  smtp: {host: 127.0.0.1, from: warroom@example.com, timeout: 45}\n"
    path.write_text("notifications:\n  page_via: [email]\nintegrations:\n" + smtp)
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "warning: integrations.smtp.timeout is 45s, more than half of "
        "notifications.claim_lease (60s): a send that hangs that long outlives its claim, and "
        "another engine may send it again; lower the timeout or lengthen the lease"
    ]
    path.write_text(
        "notifications:\n  page_via: [email]\n  claim_lease: 2m\nintegrations:\n" + smtp
    )
    assert runner.invoke(app, ["config", "check", str(path)]).stderr == ""
