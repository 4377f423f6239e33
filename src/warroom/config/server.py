"""The `server:` section: limits of the HTTP server itself."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServerConfig(BaseModel):
    """The `server:` section of warroom.yaml."""

    model_config = ConfigDict(extra="forbid")

    # One limit for every route's request body; the intake routes keep their own
    # (`detection.max_body_bytes`). Re-read on reload, checked before the body is read.
    max_request_bytes: int = Field(
        1_048_576, gt=0, description="The largest request body any route accepts, in bytes."
    )
    # Evidence uploads stream to disk and are hashed as they arrive: their own, larger limit
    # (docs/evidence.md). The route counts the file's bytes; the body may add the form's own.
    max_evidence_bytes: int = Field(
        536_870_912, gt=0, description="The largest evidence file an upload accepts, in bytes."
    )
