"""`warroom incident status-update|status-updates` against a live server over a socket."""

from __future__ import annotations

import json

from tests.cli.test_incident_cli import Cli, cli, error, invoke, ok  # noqa: F401  (fixture)
from tests.status.conftest import close, declare
from warroom.runtime import Runtime


def test_post_and_list(cli: Cli, runtime: Runtime) -> None:  # noqa: F811
    ref = declare(runtime, "Checkout is down", service="checkout")
    out = ok(
        cli(
            "status-update",
            "1",
            "--status",
            "identified",
            "--body",
            "A bad deploy; rolling back.",
            "--component",
            "api=partial_outage",
            "--component",
            "web = degraded_performance",
            "--public-title",
            "Checkout is slow",
        )
    )
    assert (
        out.strip()
        == f"Posted public update 1 on {ref}: identified (public title: Checkout is slow)"
    )
    update = json.loads(
        ok(
            cli(
                "status-update",
                ref,
                "--status",
                "monitoring",
                "--body",
                "quiet",
                "--private",
                "--json",
            )
        )
    )
    assert (update["public"], update["components"], update["author"]) == (False, {}, "rita")
    assert update["public_title"] is None

    listed = json.loads(ok(cli("status-updates", ref, "--json")))
    assert [i["status"] for i in listed["items"]] == ["monitoring", "identified"]
    assert listed["items"][1]["components"] == {
        "api": "partial_outage",
        "web": "degraded_performance",
    }
    table = ok(cli("status-updates", "INC-1"))
    assert "api=partial_outage, web=degraded_performance" in table
    assert "private" in table and "A bad deploy; rolling back." in table
    assert "Checkout is slow" in table

    events = json.loads(ok(cli("show", ref, "--json")))["timeline"]
    assert [e["source"] for e in events if e["kind"] == "status_update"] == ["cli", "cli"]


def test_empty_list(cli: Cli, runtime: Runtime) -> None:  # noqa: F811
    ref = declare(runtime, "Checkout is down", service="checkout")
    assert ok(cli("status-updates", ref)).strip() == f"{ref} has no status updates yet"


def test_usage_errors_exit_2_before_any_request(cli: Cli, runtime: Runtime) -> None:  # noqa: F811
    declare(runtime, "Checkout is down", service="checkout")
    base = ["status-update", "1", "--body", "x"]
    for extra in (
        ["--status", "fixed"],
        ["--status", "identified", "--component", "api"],
        ["--status", "identified", "--component", "=major_outage"],
        ["--status", "identified", "--component", "api=on_fire"],
    ):
        result = cli(*base, *extra)
        assert result.exit_code == 2, (extra, result.output)
    assert cli("status-update", "1", "--status", "identified").exit_code == 2  # no --body
    for extra in (["--public-title", "  "], ["--public-title", "Slow", "--private"]):
        result = cli(*base, "--status", "identified", *extra)
        assert result.exit_code == 2, (extra, result.output)
        assert "--public-title" in result.output
    assert json.loads(ok(cli("status-updates", "1", "--json")))["items"] == []


def test_server_refusals_are_one_line(
    cli: Cli,  # noqa: F811
    runtime: Runtime,
    live_server: str,
    tokens: dict[str, str],
) -> None:
    ref = declare(runtime, "Checkout is down", service="checkout")
    args = ["status-update", ref, "--status", "identified", "--body", "x"]
    args += ["--public-title", "Checkout is slow"]
    line = error(cli(*args, "--component", "db=major_outage"))
    assert "unknown component 'db'" in line
    assert "403" not in line and "responder" in error(cli(*args, token=tokens["viewer"]))
    secret = declare(runtime, "Leak", incident_type="security", service="accounts")
    assert "restricted" in error(
        cli("status-update", secret, "--status", "identified", "--body", "x", "--public-title", "y")
    )
    closed = declare(runtime, "Old", service="checkout")
    close(runtime, closed)
    assert "is closed" in error(cli("status-update", closed, "--status", "resolved", "--body", "x"))
    assert "no incident INC-99" in error(cli("status-updates", "99"))
    assert "WARROOM_TOKEN" in error(invoke(live_server, None, "status-updates", ref))
    assert json.loads(ok(cli("status-updates", ref, "--json")))["items"] == []


def test_first_public_update_needs_public_title_then_keeps_it(
    cli: Cli,  # noqa: F811
    runtime: Runtime,
) -> None:
    ref = declare(runtime, "HighCPUUsage on 10.0.0.7:9100", service="checkout")
    args = ["status-update", ref, "--status", "investigating", "--body", "Checkout is slow"]
    line = error(cli(*args))
    assert line == (
        f"error: {ref} has no public update yet, so this one needs --public-title TEXT: "
        "the incident's own title is internal and is never shown to the public"
    )
    assert json.loads(ok(cli("status-updates", ref, "--json")))["items"] == []
    ok(cli(*args, "--public-title", "Slow checkout"))
    again = ok(cli("status-update", ref, "--status", "identified", "--body", "Found it"))
    assert again.strip().endswith("(public title: Slow checkout)")
    changed = ok(cli(*args, "--public-title", "Payments delayed"))
    assert changed.strip().endswith("(public title: Payments delayed)")
    listed = json.loads(ok(cli("status-updates", ref, "--json")))["items"]
    assert [i["public_title"] for i in listed] == [
        "Payments delayed",
        "Slow checkout",  # kept from the first
        "Slow checkout",
    ]
