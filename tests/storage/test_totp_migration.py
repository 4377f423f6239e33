"""Migration 0016 on both backends: the TOTP tables come and go without touching users."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from tests.storage.test_public_title_migration import AT, _upgrade, empty_url  # noqa: F401


def test_totp_tables_come_and_go(empty_url: str) -> None:  # noqa: F811
    _upgrade(empty_url, "0015")
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, name, role, password_hash, created_at, service_account)"
                " VALUES (1, 'alice', 'responder', 'argon2-hash', :at, false)"
            ),
            {"at": AT},
        )
    _upgrade(empty_url, "head")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO user_totp (user_id, secret, created_at, last_step)"
                " VALUES (1, 'JBSWY3DPEHPK3PXP', :at, 59000000)"
            ),
            {"at": AT},
        )
        conn.execute(
            text(
                "INSERT INTO recovery_codes (user_id, digest, created_at) VALUES (1, :digest, :at)"
            ),
            {"digest": "a" * 64, "at": AT},
        )
    with engine.connect() as conn:
        assert conn.execute(text("SELECT last_step FROM user_totp")).scalar() == 59_000_000
    _upgrade(empty_url, "0015", down=True)
    tables = set(inspect(engine).get_table_names())
    assert not {"user_totp", "recovery_codes"} & tables
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM users")).scalars().all() == ["alice"]
    engine.dispose()
