"""docs/reference.md: generated from the models, current, and never showing a secret."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from typer.testing import CliRunner

from tests.conftest import REPO
from warroom.cli.main import app
from warroom.config.model import WarroomConfig
from warroom.config.reference import SETTING_HELP, field_rows, render, table
from warroom.core.durations import Duration
from warroom.secrets import Secret
from warroom.settings import Settings

REFERENCE = Path(REPO) / "docs" / "reference.md"
REGENERATE = "warroom config reference --output docs/reference.md"


def test_committed_reference_is_current() -> None:
    committed = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
    assert render() == committed, f"docs/reference.md is out of date: run `{REGENERATE}`"


def test_reference_lists_every_setting_and_section() -> None:
    text = render()
    for name in Settings.model_fields:
        assert f"| `WARROOM_{name.upper()}` |" in text
    for name, field in WarroomConfig.model_fields.items():
        assert f"### `{field.alias or name}`" in text
    # Nested keys are dotted down to the leaves, aliases as written in YAML.
    for key in ("integrations.twilio.sms_rate.count", "integrations.twilio.from"):
        assert f"| `{key}` |" in text
    assert "| `severities.<name>.page` |" in text
    assert "| `services[].escalation` |" in text


def test_every_setting_is_described() -> None:
    assert set(SETTING_HELP) == set(Settings.model_fields), (
        "describe each Settings field in warroom.config.reference.SETTING_HELP"
    )


class Rate(BaseModel):
    """At most `count` in `per`."""

    count: int = Field(ge=1)
    per: Duration = timedelta(minutes=1)


class Toy(BaseModel):
    """A model with one of each kind of field."""

    password: SecretStr = SecretStr("hunter2")
    token: Secret | None = None
    headers: dict[str, Secret] = Field(default_factory=lambda: {"X-Key": SecretStr("s3cr3t")})
    rates: list[Rate] = Field(default_factory=list)  # limits per channel
    # Where to send; the comment above a field describes it when it has none of its own.
    url: str = "https://example.test/a|b"
    mode: str = Field("fast", description="How fast.")


def test_secrets_show_their_type_never_their_value() -> None:
    rows = list(field_rows(Toy, "password", Toy.model_fields["password"], "toy.password"))
    rows += [
        row
        for name in ("token", "headers", "rates", "url", "mode")
        for row in field_rows(Toy, name, Toy.model_fields[name], f"toy.{name}")
    ]
    text = "\n".join(table(iter(rows)))
    assert "hunter2" not in text and "s3cr3t" not in text and "X-Key" not in text
    assert "| `toy.password` | secret | — |" in text
    assert "| `toy.token` | secret (optional) | — |" in text
    assert "| `toy.headers` | mapping of string to secret | — |" in text
    # Nested models, durations, comments, descriptions and table-breaking characters.
    assert "| `toy.rates` | list of mapping | `[]` | At most `count` in `per`. |" in text
    assert "| `toy.rates[].count` | integer | required |  |" in text
    assert "| `toy.rates[].per` | duration | `1m` |  |" in text
    assert "`https://example.test/a\\|b`" in text
    assert "the comment above a field describes it" in text
    assert "| `toy.mode` | string | `fast` | How fast. |" in text


def test_cli_writes_the_reference(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "reference.md"
    done = runner.invoke(app, ["config", "reference", "--output", str(target)])
    assert done.exit_code == 0, done.output
    assert target.read_text(encoding="utf-8") == render()
    printed = runner.invoke(app, ["config", "reference"])
    assert printed.exit_code == 0 and printed.stdout == render()


def test_cli_reports_an_unwritable_output_in_one_line(tmp_path: Path) -> None:
    done = CliRunner().invoke(
        app, ["config", "reference", "--output", str(tmp_path / "missing" / "reference.md")]
    )
    assert done.exit_code == 1
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("error: cannot write ") and "No such file" in done.stderr
