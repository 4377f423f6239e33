"""Fixtures for the status page: a configuration with components tied to services."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import SKIP
from warroom.config import WarroomConfig
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

COMPONENTS = [
    {"id": "api", "name": "Public API", "group": "Platform", "services": ["checkout"]},
    {"id": "web", "name": "Website", "description": "www.example.com", "services": ["search"]},
    {"id": "login", "name": "Sign-in", "group": "Platform", "services": ["accounts"]},
]


@pytest.fixture
def config() -> WarroomConfig:
    """Three services, each behind one public component."""
    return WarroomConfig.model_validate(
        {
            "services": [{"id": "checkout"}, {"id": "search"}, {"id": "accounts"}],
            # Absolute links come from here, never from the request's Host header.
            "notifications": {"base_url": "https://warroom.example.com"},
            "status_page": {"title": "Acme status", "components": COMPONENTS},
        }
    )


def declare(runtime: Runtime, title: str, **fields: Any) -> str:
    """Declare an incident as rita; return its ref."""
    detail = runtime.flows.declare(actor=Actor(name="rita", source="api"), title=title, **fields)
    return detail.ref


def close(runtime: Runtime, ref: str) -> None:
    """Resolve then close an incident (skipping its Verification items; not SEV-1/SEV-2)."""
    actor = Actor(name="rita", source="api")
    runtime.flows.transition(ref, "resolve", actor=actor, skip_verification=SKIP)
    runtime.flows.transition(ref, "close", actor=actor)
