"""Reference data responders choose from: severities (with definitions) and priorities."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from warroom.api.deps import RuntimeDep, Viewer
from warroom.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", tags=["reference"], responses=ERROR_RESPONSES)
RULE = "When unsure between two levels, choose the higher one."


class SeverityOut(BaseModel):
    """One severity level and what it means."""

    id: str
    name: str
    description: str
    page: bool
    exec_email: bool
    postmortem_required: bool


class SeverityList(BaseModel):
    """The configured severities, most severe first, and the rule for choosing."""

    rule: str
    severities: list[SeverityOut]
    priorities: list[str]


@router.get("/severities", response_model=SeverityList)
def severities(runtime: RuntimeDep, _principal: Viewer) -> SeverityList:
    """List the severity levels with their definitions, and the priorities."""
    config = runtime.config()
    return SeverityList(
        rule=RULE,
        priorities=list(config.priorities),
        severities=[
            SeverityOut(id=key, **value.model_dump()) for key, value in config.severities.items()
        ],
    )
