"""The mail relay's settings (`integrations.smtp`): pydantic only."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, FilePath, model_validator

from warroom.secrets import Secret


class SmtpConfig(BaseModel):
    """How warroom reaches its mail relay, and who gets executive summaries."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    from_address: EmailStr = Field(alias="from")
    from_name: str = "warroom"
    reply_to: EmailStr | None = None
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password: Secret | None = None
    ca_file: FilePath | None = None  # a private CA for the relay's certificate
    timeout: float = Field(default=10.0, gt=0, le=300)
    executives: list[EmailStr] = Field(default_factory=list)  # SEV-1/SEV-2 summaries

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> SmtpConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both `username` and `password`, or neither")
        if "\n" in self.from_name or "\r" in self.from_name:
            raise ValueError("`from_name` must be one line")
        return self

    @property
    def domain(self) -> str:
        """Return the domain of the From address, used in Message-IDs."""
        return str(self.from_address).rpartition("@")[2].lower()
