"""Migration 0012 on both backends: earlier tokens keep reading and writing, never expire."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.storage.test_public_title_migration import AT, _upgrade, empty_url  # noqa: F401


def test_earlier_tokens_keep_what_they_could_do(empty_url: str) -> None:  # noqa: F811
    _upgrade(empty_url, "0011")
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        for user_id, name, password in ((1, "admin", "argon2-hash"), (2, "alice", None)):
            conn.execute(
                text(
                    "INSERT INTO users (id, name, role, password_hash, created_at)"
                    " VALUES (:id, :name, 'admin', :password, :at)"
                ),
                {"id": user_id, "name": name, "password": password, "at": AT},
            )
            conn.execute(
                text(
                    "INSERT INTO api_tokens (id, user_id, name, prefix, digest, created_at)"
                    " VALUES (:id, :id, 'cli', 'wr_abcdefg', :digest, :at)"
                ),
                {"id": user_id, "digest": f"{user_id:064d}", "at": AT},
            )
    _upgrade(empty_url, "head")
    with engine.connect() as conn:
        tokens = conn.execute(text("SELECT scopes, expires_at FROM api_tokens ORDER BY id")).all()
        users = conn.execute(text("SELECT name, service_account FROM users ORDER BY id")).all()
    assert [tuple(row) for row in tokens] == [("read write", None), ("read write", None)]
    # The first start's admin (the one with a password) is no warroom.yaml person.
    assert [(name, bool(flag)) for name, flag in users] == [("admin", True), ("alice", False)]
    _upgrade(empty_url, "0011", down=True)
    with engine.connect() as conn:
        assert "scopes" not in list(conn.execute(text("SELECT * FROM api_tokens")).keys())
        assert "service_account" not in list(conn.execute(text("SELECT * FROM users")).keys())
    engine.dispose()
