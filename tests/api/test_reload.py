"""POST /-/reload re-reads warroom.yaml and keeps the last good configuration on error."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from warroom.runtime import Runtime


def test_reload_applies_good_and_keeps_last_good(
    client: TestClient, runtime: Runtime, tokens: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "warroom.yaml"
    runtime.settings.config = path
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    responder = {"Authorization": f"Bearer {tokens['responder']}"}
    path.write_text("services:\n  - {id: checkout}\n")
    assert client.post("/-/reload", headers=responder).status_code == 403
    ok = client.post("/-/reload", headers=admin)
    assert ok.status_code == 200
    assert ok.json()["services"] == ["checkout"]
    refused = client.post(
        "/api/v1/incidents", json={"title": "x", "service": "search"}, headers=responder
    )
    assert refused.status_code == 422
    assert "unknown service 'search'" in refused.json()["error"]["message"]

    path.write_text("services:\n  - {name: no id}\n")
    bad = client.post("/-/reload", headers=admin)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"] == [f"{path}:2: services.0.id: Field required"]
    assert [s.id for s in runtime.config().services] == ["checkout"]
    kept = client.post(
        "/api/v1/incidents", json={"title": "x", "service": "checkout"}, headers=responder
    )
    assert kept.status_code == 201
