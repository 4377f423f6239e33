"""Process settings from `WARROOM_*` environment variables, built once at the entry point."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process settings from `WARROOM_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="WARROOM_", extra="ignore")

    config: Path | None = None
    data_dir: Path = Path("./var")
    database_url: str | None = None
    runbooks_dir: Path = Path("./docs/runbooks")
    log_format: str = "text"
    log_level: str = "INFO"

    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to SQLite in the data directory."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'warroom.db').resolve()}"

    def config_path(self) -> Path | None:
        """Return the YAML file to read: WARROOM_CONFIG, else ./warroom.yaml if present."""
        if self.config is not None:
            return self.config
        default = Path("warroom.yaml")
        return default if default.exists() else None


def normalise_database_url(url: str) -> str:
    """Make plain `postgresql://` URLs use psycopg 3, the driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
