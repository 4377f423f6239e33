"""Atlassian Statuspage settings (`integrations.statuspage`): pydantic only."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.core.urls import vendor_url
from warroom.secrets import Secret

DEFAULT_BASE_URL = "https://api.statuspage.io"

Impact = Literal["none", "minor", "major", "critical"]


def _default_impact_map() -> dict[str, Impact]:
    return {"SEV-1": "critical", "SEV-2": "major", "SEV-3": "minor", "SEV-4": "none"}


class StatuspageConfig(BaseModel):
    """`integrations.statuspage` in warroom.yaml: which page, and how incidents map onto it."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)  # secrets stay out

    api_key: Secret
    page_id: str = Field(pattern=r"^[A-Za-z0-9]{1,64}$")
    base_url: str = DEFAULT_BASE_URL
    components: dict[str, str] = Field(default_factory=dict)  # warroom id -> Statuspage id
    severities: list[str] = Field(default_factory=lambda: ["SEV-1", "SEV-2"])
    impact_map: dict[str, Impact] = Field(default_factory=_default_impact_map)
    deliver_notifications: bool = True  # Statuspage e-mails/texts the page's subscribers
    operational_on_resolve: bool = True  # a resolved incident puts its components back
    timeout: float = Field(default=10.0, gt=0, le=60)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        vendor_url(value, "base_url")
        return value.rstrip("/")

    def sends(self, severity: str) -> bool:
        """Return whether public incidents of this severity go on the status page."""
        return severity in self.severities
