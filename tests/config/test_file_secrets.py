"""Secrets from files (`file:/PATH`), as Docker and Kubernetes mount them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from warroom.cli.main import app
from warroom.config import load_config
from warroom.core.errors import ConfigError

TOKEN = "am-token-from-a-mounted-file-5c1e"


def config_with(tmp_path: Path, secret: str) -> Path:
    """Write a warroom.yaml whose Alertmanager token is `secret`; return its path."""
    path = tmp_path / "warroom.yaml"
    path.write_text(f'integrations:\n  alertmanager:\n    - {{name: prod, token: "{secret}"}}\n')
    return path


def refusal(path: Path) -> str:
    """Load `path`, which must be refused; return its problems as one text."""
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return "\n".join(caught.value.problems)


def test_a_secret_is_read_from_its_file_less_the_final_line_break(tmp_path: Path) -> None:
    mounted = tmp_path / "am_token"
    mounted.write_text(TOKEN + "\n")  # as `echo TOKEN > file` writes it
    config = load_config(config_with(tmp_path, f"file:{mounted}"))
    assert config.integrations.alertmanager[0].token.get_secret_value() == TOKEN


@pytest.mark.parametrize(
    ("setup", "said"),
    [
        (lambda d: "file:relative/token", "file: needs an absolute path"),
        (lambda d: f"file:{d}/missing", "cannot be read: No such file or directory"),
        (lambda d: f"file:{d}", "cannot be read: Is a directory"),
    ],
    ids=["relative", "missing", "directory"],
)
def test_an_unreadable_secret_file_is_a_configuration_error(
    tmp_path: Path, setup: object, said: str
) -> None:
    secret = setup(tmp_path)  # type: ignore[operator]
    assert said in refusal(config_with(tmp_path, secret))


def test_an_empty_secret_file_is_refused_and_no_error_shows_a_secret(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert f"secret file {empty} is empty" in refusal(config_with(tmp_path, f"file:{empty}"))
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe" + TOKEN.encode())
    said = refusal(config_with(tmp_path, f"file:{binary}"))
    assert "not UTF-8 text" in said and TOKEN not in said


def test_admin_commands_run_without_the_secret_file(tmp_path: Path) -> None:
    # Like an unset env: variable, a secret file that is not mounted here does not stop the
    # local admin commands (they send nothing); config check still names it.
    path = config_with(tmp_path, f"file:{tmp_path}/not-mounted")
    data = tmp_path / "data"
    env = {"WARROOM_CONFIG": str(path), "WARROOM_DATA_DIR": str(data)}
    made = CliRunner().invoke(app, ["users", "create", "lena", "--role", "viewer"], env=env)
    assert made.exit_code == 0, made.output
    checked = CliRunner().invoke(app, ["config", "check", str(path)], env=env)
    assert checked.exit_code == 1 and "not-mounted cannot be read" in checked.output
