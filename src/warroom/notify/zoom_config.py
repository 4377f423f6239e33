"""Zoom's settings (`integrations.zoom`): pydantic only, so reading them loads no HTTP client."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from warroom.secrets import Secret


class ZoomConfig(BaseModel):
    """A Zoom Server-to-Server OAuth app, and which incidents get a meeting."""

    model_config = ConfigDict(extra="forbid")

    account_id: Secret
    client_id: Secret
    client_secret: Secret
    oauth_url: HttpUrl = HttpUrl("https://zoom.us")
    api_url: HttpUrl = HttpUrl("https://api.zoom.us")
    user: str = Field(default="me", min_length=1, pattern=r"^[A-Za-z0-9@._+-]+$")
    meeting_type: Literal["instant", "scheduled"] = "instant"
    timeout: float = Field(default=10.0, gt=0, le=300)
    severities: list[str] = Field(default_factory=lambda: ["SEV-1", "SEV-2"])

    def wants_meeting(self, severity: str) -> bool:
        """Tell whether an incident of this severity gets a meeting."""
        return severity in self.severities
