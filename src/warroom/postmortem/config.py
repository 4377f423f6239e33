"""The `postmortem:` section of warroom.yaml: which severities need one, when it is due."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_CATEGORIES = ["People", "Process", "Technology", "Environment", "Tools"]
CATEGORY_MAX = 64


class PostmortemConfig(BaseModel):
    """How postmortems are created and which fishbone bones they start with."""

    model_config = ConfigDict(extra="forbid")

    required_severities: list[str] | None = Field(
        default=None,
        description="Severities whose postmortem is required; default: postmortem_required ones.",
    )
    due_business_days: int = Field(default=5, ge=0, le=60)
    fishbone_categories: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CATEGORIES), min_length=1, max_length=12
    )

    @field_validator("fishbone_categories")
    @classmethod
    def _clean_categories(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        cleaned = []
        for name in value:
            name = name.strip()
            if not name or len(name) > CATEGORY_MAX:
                raise ValueError(f"a category must be 1 to {CATEGORY_MAX} characters")
            if name.casefold() in seen:
                raise ValueError(f"category {name!r} is listed twice")
            seen.add(name.casefold())
            cleaned.append(name)
        return cleaned

    def is_required(self, severity: str, marked: set[str]) -> bool:
        """Tell whether an incident of `severity` needs a postmortem.

        `marked` holds the severities with `postmortem_required: true`, used when
        `required_severities` is not set.
        """
        chosen = marked if self.required_severities is None else set(self.required_severities)
        return severity in chosen


def required_for(config: Any, severity: str) -> bool:
    """Tell whether an incident of `severity` needs a postmortem under `config` (WarroomConfig)."""
    marked = {sev for sev, value in config.severities.items() if value.postmortem_required}
    return bool(config.postmortem.is_required(severity, marked))
