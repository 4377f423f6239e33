"""`warroom search` against a real server over a socket, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import httpx
from typer.testing import CliRunner, Result

from warroom.cli.main import app

runner = CliRunner()
PLAIN = {"COLUMNS": "200", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}


def search(url: str, token: str, *args: str) -> Result:
    """Run `warroom search ARGS` with WARROOM_URL and WARROOM_TOKEN set."""
    return runner.invoke(
        app, ["search", *args], env={"WARROOM_URL": url, "WARROOM_TOKEN": token, **PLAIN}
    )


def test_search_prints_a_table_and_json(live_server: str, tokens: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {tokens['responder']}"}
    with httpx.Client(base_url=live_server, headers=headers, timeout=30) as api:
        for title in ("Kafka lag on orders [bold]x[/bold]", "Disk full"):
            assert api.post("/api/v1/incidents", json={"title": title}).status_code == 201
        note = {"text": "Kafka consumer restarted"}
        assert api.post("/api/v1/incidents/INC-2/timeline", json=note).status_code == 201
    table = search(live_server, tokens["viewer"], "kafka")
    assert table.exit_code == 0, (table.stdout, table.stderr)
    assert "INC-1" in table.stdout and "INC-2" in table.stdout
    # Text is printed as text: Rich markup in a title stays as typed.
    assert "[bold]x[/bold]" in table.stdout
    assert "timeline note: Kafka consumer restarted" in table.stdout
    assert "2 of 2 shown" in table.stdout
    answer = search(live_server, tokens["viewer"], "kafka", "--per-page", "1", "--json")
    body = json.loads(answer.stdout)
    assert (body["total"], body["next_page"], len(body["items"])) == (2, 2, 1)
    nothing = search(live_server, tokens["viewer"], "zucchini")
    assert (nothing.exit_code, nothing.stdout) == (0, "no incidents match\n")


def test_bad_input_is_one_error_line(live_server: str, tokens: dict[str, str]) -> None:
    result = search(live_server, tokens["viewer"], "kafka", "--severity", "SEV-9")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "unknown severity" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    words = search(live_server, tokens["viewer"], "!!!")
    assert words.exit_code == 1 and "no words to search for" in words.stderr


def test_an_argument_with_spaces_is_searched_as_a_phrase(
    live_server: str, tokens: dict[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {tokens['responder']}"}
    with httpx.Client(base_url=live_server, headers=headers, timeout=30) as api:
        for title in ("Connection pool exhausted", "Pool of connection retries"):
            assert api.post("/api/v1/incidents", json={"title": title}).status_code == 201
    # As the shell passes `warroom search "connection pool"`: one argument, quotes gone.
    phrase = search(live_server, tokens["viewer"], "connection pool", "--json")
    assert [item["ref"] for item in json.loads(phrase.stdout)["items"]] == ["INC-1"]
    words = search(live_server, tokens["viewer"], "connection", "pool", "--json")
    assert {item["ref"] for item in json.loads(words.stdout)["items"]} == {"INC-1", "INC-2"}
