"""Typed field constraints shared by request bodies: one name per repeated limit.

The lengths match what a person writes and what the columns hold; a body that exceeds one is
refused with 422 before any service code runs. Where a field must also not be empty, add
`Field(min_length=1)` beside the alias (e.g. `Annotated[Reason, Field(min_length=1)]`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

Name = Annotated[str, Field(max_length=64)]
"""An id or short name as warroom.yaml spells it: a service, schedule, layer, owner, module."""

PersonId = Annotated[str, Field(min_length=1, max_length=64)]
"""A person's id (from `people:`) or name; never empty."""

Title = Annotated[str, Field(min_length=1, max_length=200)]
"""A one-line title; never empty."""

LongText = Annotated[str, Field(max_length=20_000)]
"""Free text of several paragraphs: a summary, a root cause, a note."""

Paragraph = Annotated[str, Field(max_length=5_000)]
"""A paragraph of free text: impact, scope, a note on a transition."""

Reason = Annotated[str, Field(max_length=2_000)]
"""Why something was done, kept on the timeline or the record."""
