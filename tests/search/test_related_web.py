"""Related incidents in the incident room: what a viewer sees and never sees (both backends)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.search.test_related import SECRET, config, history, who  # noqa: F401
from tests.web.test_pages import add_user, sign_in
from warroom.runtime import Runtime


def test_the_room_lists_related_incidents_the_viewer_may_see(
    client: TestClient,
    runtime: Runtime,
    history: dict[str, str],  # noqa: F811
) -> None:
    add_user(runtime, "pat", "viewer")
    add_user(runtime, "root", "admin")
    sign_in(client, "pat")
    page = client.get(f"/incidents/{history['now']}")
    assert page.status_code == 200
    assert 'id="related-title">Related incidents' in page.text
    assert f'<a href="/incidents/{history["cpu2"]}">{history["cpu2"]}</a>' in page.text
    assert "same service, same alertname (HighCPU)" in page.text
    assert "2 times in the last 90 days" in page.text
    assert SECRET not in page.text and f'"/incidents/{history["breach"]}"' not in page.text
    client.cookies.clear()
    sign_in(client, "root")
    page = client.get(f"/incidents/{history['now']}")
    assert f'<a href="/incidents/{history["breach"]}">{history["breach"]}</a>' in page.text
