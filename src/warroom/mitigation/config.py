"""The `verification:` section of warroom.yaml: what must hold before an incident resolves."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.core.durations import Duration

SECTION_MAX = 64


class VerificationConfig(BaseModel):
    """The resolve gate (checklist sections) and the verification window after mitigation."""

    model_config = ConfigDict(extra="forbid")

    required_sections: list[str] = Field(
        default_factory=lambda: ["Verification"],
        max_length=12,
        description="Checklist sections whose items must be done or skipped before resolving.",
    )
    window: Duration = Field(
        default=timedelta(minutes=15),
        description="How long the linked alerts must stay resolved after mitigation.",
    )
    auto_resolve: bool = Field(
        default=False, description="Resolve on its own once the window passes (opt-in)."
    )
    auto_resolve_severities: list[str] | None = Field(
        default=None, description="Only these severities resolve on their own; default: all."
    )
    refire_returns_to_triaged: bool = Field(
        default=True, description="A linked alert firing again moves a mitigated incident back."
    )

    @field_validator("required_sections")
    @classmethod
    def _clean_sections(cls, value: list[str]) -> list[str]:
        cleaned: list[str] = []
        for name in value:
            name = name.strip()
            if not name or len(name) > SECTION_MAX:
                raise ValueError(f"a section name must be 1 to {SECTION_MAX} characters")
            if name.casefold() in {c.casefold() for c in cleaned}:
                raise ValueError(f"section {name!r} is listed twice")
            cleaned.append(name)
        return cleaned

    @field_validator("window")
    @classmethod
    def _window_range(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=7):
            raise ValueError("the window must be between 1m and 7d")
        return value

    def gates(self, section: str) -> bool:
        """Tell whether items of `section` must be settled before resolving (any case)."""
        wanted = section.strip().casefold()
        return any(name.casefold() == wanted for name in self.required_sections)

    def resolves_on_its_own(self, severity: str) -> bool:
        """Tell whether an incident of `severity` may resolve when its window passes."""
        if not self.auto_resolve:
            return False
        chosen = self.auto_resolve_severities
        return chosen is None or severity in chosen
