"""Reading the audit log: the admin-only API, and `warroom audit verify|head|list`."""

from __future__ import annotations

from datetime import timedelta

import orjson
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.audit.conftest import logged
from tests.audit.test_chain import _tamper, _write
from warroom.cli.main import app
from warroom.runtime import Runtime

AUDIT = "/api/v1/audit"


def test_admins_page_through_the_log_newest_first(
    client: TestClient, tokens: dict[str, str], runtime: Runtime
) -> None:
    _write(runtime, 5)
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    first = client.get(f"{AUDIT}?limit=3", headers=admin)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["seq"] for e in page["entries"]] == [5, 4, 3]
    assert page["next_before"] == 3
    assert page["entries"][0]["prev_hash"] == page["entries"][1]["hash"]
    rest = client.get(f"{AUDIT}?limit=3&before=3", headers=admin).json()
    assert [e["seq"] for e in rest["entries"]] == [2, 1] and rest["next_before"] is None
    # Each reading is audited too: two pages, two entries after the five.
    head = client.get(f"{AUDIT}/head", headers=admin).json()
    assert head["seq"] == 7 and len(head["hash"]) == 64
    reads = logged(runtime, "audit.read")
    assert [r["details"] for r in reads] == [{}, {"before": 3}]
    assert all(r["actor"] == "ada" for r in reads)


def test_filters_by_actor_action_family_and_time(
    client: TestClient, tokens: dict[str, str], runtime: Runtime
) -> None:
    _write(runtime, 2, actor="alice")
    _write(runtime, 1, actor="bob")
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    by_bob = client.get(f"{AUDIT}?actor=bob", headers=admin).json()["entries"]
    assert [e["actor"] for e in by_bob] == ["bob"]
    family = client.get(f"{AUDIT}?action=incident.", headers=admin).json()["entries"]
    assert len(family) == 3 and {e["action"] for e in family} == {"incident.read"}
    star = client.get(f"{AUDIT}?action=incident*", headers=admin).json()["entries"]
    assert len(star) == 3
    since = (runtime.clock.now() + timedelta(seconds=1)).isoformat()
    later = client.get(AUDIT, params={"since": since}, headers=admin).json()["entries"]
    assert {e["target"] for e in later} == {"INC-2"}  # written 1 s after the first ones
    bad = client.get(f"{AUDIT}?since=yesterday", headers=admin)
    assert bad.status_code == 422
    assert "neither a duration (30d, 12h) nor an ISO 8601 time" in bad.json()["error"]["message"]


def test_only_admins_read_it_and_a_refusal_is_logged(
    client: TestClient, tokens: dict[str, str], runtime: Runtime
) -> None:
    for role in ("viewer", "responder"):
        answer = client.get(AUDIT, headers={"Authorization": f"Bearer {tokens[role]}"})
        assert answer.status_code == 403
        assert "admin" in answer.json()["error"]["message"]
    assert client.get(f"{AUDIT}/head").status_code == 401
    denied = logged(runtime, "access.denied")
    assert [(d["actor"], d["details"]["request"]) for d in denied] == [
        ("vic", f"GET {AUDIT}"),
        ("rita", f"GET {AUDIT}"),
    ]


def test_cli_verify_head_and_list(runtime: Runtime, env: dict[str, str]) -> None:
    runner = CliRunner()
    _write(runtime, 4)
    head = runner.invoke(app, ["audit", "head"], env=env)
    assert head.exit_code == 0, head.output
    count, digest = head.stdout.split()
    assert count == "4" and len(digest) == 64
    verified = runner.invoke(app, ["audit", "verify", "--head", digest], env=env)
    assert verified.exit_code == 0, verified.output
    assert f"audit log intact: 4 entries, head 4 {digest}" in verified.stdout
    listed = runner.invoke(app, ["audit", "list", "--json", "--target", "INC-2"], env=env)
    assert listed.exit_code == 0, listed.output
    (entry,) = orjson.loads(listed.stdout)
    assert (entry["seq"], entry["actor"], entry["details"]["n"]) == (2, "ada", 1)
    table = runner.invoke(app, ["audit", "list", "--action", "incident."], env=env)
    assert table.exit_code == 0 and "incident.read" in table.stdout
    # Listing is audited as the operating-system user, from "local".
    (read, _second) = logged(runtime, "audit.read")
    assert read["actor"].startswith("os:") and read["client"] == "local"


def test_cli_verify_fails_naming_the_entry(runtime: Runtime, env: dict[str, str]) -> None:
    runner = CliRunner()
    _write(runtime, 3)
    _tamper(runtime.db, "UPDATE audit_log SET target = 'INC-9' WHERE seq = 2")
    broken = runner.invoke(app, ["audit", "verify"], env=env)
    assert broken.exit_code == 1
    assert broken.output.strip().splitlines()[-1] == (
        "error: audit log broken at entry 2: entry 2 was changed after it was written: "
        "it no longer matches its hash"
    )
    bad = runner.invoke(app, ["audit", "verify", "--head", "xyz"], env=env)
    assert bad.exit_code == 1 and "64 hex digits" in bad.output
    when = runner.invoke(app, ["audit", "list", "--since", "last week"], env=env)
    assert when.exit_code == 1
    assert "--since 'last week' is neither a duration" in when.output
