"""The `status_page:` section of warroom.yaml: title, components and how long history shows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

COMPONENT_ID = r"^[a-z0-9][a-z0-9_.-]*$"


class ComponentConfig(BaseModel):
    """A part of the product the public sees, affected when an incident of its services is."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=COMPONENT_ID, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1_000)
    group: str | None = Field(default=None, max_length=200)
    services: list[str] = Field(default_factory=list)


class StatusPageConfig(BaseModel):
    """The built-in public status page (`GET /status`)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="Status", min_length=1, max_length=200)
    components: list[ComponentConfig] = Field(default_factory=list)
    public_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s/?#]+", description="Where the public reaches it."
    )
    history_days: int = Field(default=14, ge=0, le=365)

    @field_validator("components")
    @classmethod
    def _unique_ids(cls, value: list[ComponentConfig]) -> list[ComponentConfig]:
        seen: set[str] = set()
        for item in value:
            if item.id in seen:
                raise ValueError(f"component {item.id!r} is defined twice")
            seen.add(item.id)
        return value

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        # Links are built by appending paths; one canonical form keeps feed ids stable.
        return value.rstrip("/") if value else value

    def component(self, component_id: str) -> ComponentConfig | None:
        """Return the component with this id, if configured."""
        return next((c for c in self.components if c.id == component_id), None)

    def components_of(self, service: str | None) -> list[str]:
        """Return the ids of the components an incident of `service` affects."""
        if service is None:
            return []
        return [c.id for c in self.components if service in c.services]


def check_status_page(
    page: StatusPageConfig, service_ids: list[str]
) -> list[tuple[tuple[object, ...], str]]:
    """Return (location, message) for components naming services that are not configured."""
    if not service_ids:  # like routes: with no services: list, any service name is allowed
        return []
    known = set(service_ids)
    problems: list[tuple[tuple[object, ...], str]] = []
    for index, component in enumerate(page.components):
        for position, service in enumerate(component.services):
            if service not in known:
                loc = ("status_page", "components", index, "services", position)
                problems.append((loc, f"unknown service {service!r}"))
    return problems
