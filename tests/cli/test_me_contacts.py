"""`warroom me contacts …` and `warroom me rules …` against a live server (codes by e-mail)."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

# The loopback Slack server, aiosmtpd and lena's configuration: the API tests' fixtures.
from tests.api.test_contact_methods import Vendors, config, vendors_fixture  # noqa: F401
from tests.conftest import make_token
from warroom.cli.main import app
from warroom.runtime import Runtime

PLAIN = {"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}


@pytest.fixture
def lena(live_server: str, runtime: Runtime) -> dict[str, str]:
    """Environment of lena's CLI."""
    token = make_token(runtime, "lena", "viewer")
    return {"WARROOM_URL": live_server, "WARROOM_TOKEN": token, **PLAIN}


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run `warroom ARGS`; return exit code, stdout and stderr."""
    done = CliRunner().invoke(app, list(args), env=env)
    return done.exit_code, done.stdout, done.stderr


def test_add_verify_list_remove(lena: dict[str, str], vendors: Vendors) -> None:
    code, out, err = run(lena, "me", "contacts", "add", "home", "email", "lena@home.example")
    assert code == 0, err
    assert out.strip() == (
        "a code was sent to lena@home.example; confirm it with "
        "`warroom me contacts verify home CODE` (valid 15 minutes)"
    )
    sent = vendors.mail_code("lena@home.example")
    code, out, _ = run(lena, "me", "contacts", "list")
    assert code == 0
    lines = [line for line in out.splitlines() if "home" in line]
    assert "lena@home.example" in lines[0] and "code sent" in lines[0] and "you" in lines[0]
    assert "warroom.yaml (read-only)" in out
    wrong = "000000" if sent != "000000" else "111111"
    code, _out, err = run(lena, "me", "contacts", "verify", "home", wrong)
    assert code == 1 and err.strip() == "error: wrong code for 'home'; 4 attempt(s) left"
    code, out, err = run(lena, "me", "contacts", "verify", "home", sent)
    assert code == 0, err
    assert out.strip() == "home is verified: pages can use it now"
    code, out, _ = run(lena, "me", "contacts", "list", "--json")
    methods = orjson.loads(out)["methods"]
    assert [(m["name"], m["verified"]) for m in methods] == [("email", True), ("home", True)]
    code, _out, err = run(lena, "me", "contacts", "resend", "home")
    assert code == 1 and err.strip() == "error: 'home' is verified already"
    code, out, _ = run(lena, "me", "contacts", "remove", "home")
    assert code == 0 and out.strip() == "home removed"
    code, _out, err = run(lena, "me", "contacts", "remove", "home")
    assert code == 1 and err.strip() == "error: you have no contact method named 'home'"


def test_sms_without_twilio_is_one_line(lena: dict[str, str]) -> None:
    code, out, err = run(lena, "me", "contacts", "add", "mobile", "sms", "+491511234567")
    assert code == 1 and out == ""
    assert err.startswith("error: SMS is not configured (integrations.twilio)")
    assert len(err.strip().splitlines()) == 1


def test_rules_show_set_clear(lena: dict[str, str]) -> None:
    code, out, _ = run(lena, "me", "rules", "show")
    assert code == 0
    assert out.startswith("you have no rules of your own: the defaults (notifications.rules)")
    assert "SEV-1" in out and "SEV-4" in out
    code, out, err = run(lena, "me", "rules", "set", "0m:chat,email", "2m: sms", "5m:voice")
    assert code == 0, err
    assert out.startswith("your rules come from you")
    rows = [line.split("│")[1:3] for line in out.splitlines() if line.count("│") == 3]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["0s", "chat, email"],
        ["2m", "sms"],
        ["5m", "voice"],
    ]
    assert "warning: you have no SMS contact method: `sms` reaches nobody" in err
    code, out, _ = run(lena, "me", "rules", "show", "--json")
    assert orjson.loads(out)["source"] == "own"
    code, _out, err = run(lena, "me", "rules", "set", "2m sms")
    assert code == 1 and err.strip().startswith("error: '2m sms' is not a step; write it as")
    code, _out, err = run(lena, "me", "rules", "set", "5m:sms", "1m:chat")
    assert code == 1
    assert err.strip() == "error: notification rule steps must be in order of `after`"
    code, out, _ = run(lena, "me", "rules", "clear")
    assert code == 0 and "the defaults apply again" in out
    code, _out, err = run(lena, "me", "rules", "clear")
    assert code == 1 and err.strip() == "error: you have no rules of your own to clear"
