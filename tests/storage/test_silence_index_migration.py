"""Migration 0030 on both backends: alerts get an index on silence_id, and lose it going down."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from tests.storage.test_public_title_migration import AT, _upgrade, empty_url  # noqa: F401


def _indexes(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {str(index["name"]) for index in inspect(engine).get_indexes("alerts")}
    finally:
        engine.dispose()


def test_the_silence_index_comes_and_goes(empty_url: str) -> None:  # noqa: F811
    _upgrade(empty_url, "0029")
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO silences (id, matchers, starts_at, ends_at, comment, created_at)"
                " VALUES (1, '[]', :at, :at, 'maintenance', :at)"
            ),
            {"at": AT},
        )
        conn.execute(
            text(
                "INSERT INTO alerts (id, source, integration, kind, fingerprint, status, is_open,"
                " title, labels, annotations, received_at, last_seen_at, seen_count, raw,"
                " silence_id) VALUES (1, 'alertmanager', 'prod', 'alert', 'f', 'resolved',"
                " false, 'Disk full', '{}', '{}', :at, :at, 1, '{}', 1)"
            ),
            {"at": AT},
        )
    assert "ix_alerts_silence_id" not in _indexes(empty_url)
    _upgrade(empty_url, "head")
    assert "ix_alerts_silence_id" in _indexes(empty_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("PRAGMA foreign_keys=ON"))
        conn.execute(text("DELETE FROM silences WHERE id = 1"))
        assert conn.execute(text("SELECT silence_id FROM alerts")).scalar() is None
    engine.dispose()
    _upgrade(empty_url, "0029", down=True)
    assert "ix_alerts_silence_id" not in _indexes(empty_url)
