"""Which push URLs point into warroom's own network (self-added methods may not)."""

from __future__ import annotations

import pytest

from warroom.notify.push_hosts import inside_network


@pytest.mark.parametrize(
    "url",
    [
        "ntfy://127.0.0.1:8080/topic",
        "ntfys://10.1.2.3/topic",
        "ntfy://192.168.0.10/topic",
        "ntfy://169.254.169.254/latest",  # the cloud metadata service
        "ntfy://[::1]/topic",
        "ntfy://[fd00::1]/topic",
        "gotify://localhost/token",
        "matrix://user:pass@matrix.internal/room",
        "ntfy://0.0.0.0/topic",
        "ntfys://printer.local/topic",
    ],
)
def test_hosts_of_this_network_are_inside(url: str) -> None:
    assert inside_network(url)


@pytest.mark.parametrize(
    "url",
    [
        "ntfys://8.8.8.8/topic",  # a public address
        "pover://user_key@app_token",  # the "host" is a key: nothing resolves it
        "tgram://123456:abcdef/987654",
        "ntfys://no-such-host.invalid/topic",  # does not resolve: fails when sent
    ],
)
def test_public_and_unresolvable_hosts_are_not(url: str) -> None:
    assert not inside_network(url)
