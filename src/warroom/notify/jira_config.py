"""Jira issue settings for action items (`integrations.jira_issues`): pydantic only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from warroom.core.urls import vendor_url
from warroom.secrets import Secret

ItemStatus = Literal["open", "done", "wontfix"]

LABEL_PREFIX = "warroom-"  # + the ticket's ref: warroom-action-12

PROJECT = r"^[A-Z][A-Z0-9_]{0,19}$"


def _default_transitions() -> dict[ItemStatus, str]:
    return {"open": "To Do", "done": "Done", "wontfix": "Won't Do"}


def _default_statuses() -> dict[str, ItemStatus]:
    # Jira files these under the "done" category; warroom tells them apart from done.
    return dict.fromkeys(("Won't Do", "Won't Fix", "Declined", "Cancelled"), "wontfix")


def item_status(
    name: str | None, category: str | None, statuses: Mapping[str, ItemStatus] | None = None
) -> ItemStatus:
    """Return the action-item status a Jira status means: by name first, then by category."""
    wanted = (name or "").casefold()
    for jira_name, ours in (_default_statuses() if statuses is None else statuses).items():
        if jira_name.casefold() == wanted:
            return ours
    return "done" if category == "done" else "open"


class JiraIssuesConfig(BaseModel):
    """`integrations.jira_issues` in warroom.yaml: where action items become Jira issues."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)  # secrets stay out

    base_url: str = Field(description="The site: https://acme.atlassian.net or Jira Server's URL.")
    deployment: Literal["cloud", "server"] | None = Field(
        default=None, description="Default: cloud for *.atlassian.net, else server."
    )
    email: str | None = Field(default=None, min_length=1, max_length=254)
    api_token: Secret | None = None
    token: Secret | None = None  # Server/Data Center personal access token
    project: str = Field(pattern=PROJECT, description="The project key, e.g. OPS.")
    issue_type: str = Field(default="Task", min_length=1, max_length=60)
    labels: list[str] = Field(default_factory=lambda: ["warroom", "postmortem"], max_length=20)
    transitions: dict[ItemStatus, str] = Field(default_factory=_default_transitions)
    statuses: dict[str, ItemStatus] = Field(default_factory=_default_statuses)
    assignees: dict[str, str] = Field(
        default_factory=dict, description="Owner -> Jira accountId (Cloud) or user name (Server)."
    )
    auto_create: bool = False
    timeout: float = Field(default=10.0, gt=0, le=60)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = vendor_url(value, "base_url")
        if parts.query or parts.fragment or "/rest/" in f"{parts.path}/":
            raise ValueError(
                "base_url is the site alone, e.g. https://acme.atlassian.net "
                "(no /rest/api/2, query or fragment)"
            )
        return value.strip().rstrip("/")

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        for label in value:
            if not label or len(label) > 255 or any(c.isspace() for c in label):
                raise ValueError(f"label {label!r} must be 1 to 255 characters without spaces")
            if label.startswith(LABEL_PREFIX + "action-"):
                raise ValueError(f"label {label!r}: warroom-action-<id> labels are warroom's own")
        return list(dict.fromkeys(value))

    @field_validator("transitions")
    @classmethod
    def _transitions(cls, value: dict[ItemStatus, str]) -> dict[ItemStatus, str]:
        if any(not name.strip() for name in value.values()):
            raise ValueError("a transition name must not be blank")
        return {**_default_transitions(), **{k: v.strip() for k, v in value.items()}}

    @field_validator("statuses")
    @classmethod
    def _statuses(cls, value: dict[str, ItemStatus]) -> dict[str, ItemStatus]:
        if any(not name.strip() for name in value):
            raise ValueError("a Jira status name must not be blank")
        return {k.strip(): v for k, v in value.items()}

    @model_validator(mode="after")
    def _auth(self) -> JiraIssuesConfig:
        basic = self.email is not None or self.api_token is not None
        if basic and self.token is not None:
            raise ValueError("give either email + api_token (Jira Cloud) or token, not both")
        if self.token is None:
            if self.email is None and self.api_token is None:
                raise ValueError(
                    "give email + api_token (Jira Cloud) or token "
                    "(a Jira Server/Data Center personal access token)"
                )
            if self.api_token is None:
                raise ValueError("email needs api_token: an API token of that Atlassian account")
            if self.email is None:
                raise ValueError("api_token needs email: the Atlassian account it belongs to")
        if self.deployment is None:
            host = urlsplit(self.base_url).hostname or ""
            self.deployment = "cloud" if host.endswith(".atlassian.net") else "server"
        return self

    def item_status(self, name: str | None, category: str | None) -> ItemStatus:
        """Return the action-item status a Jira status (name, category key) means."""
        return item_status(name, category, self.statuses)
