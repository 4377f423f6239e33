"""Where the request being served comes from, for the entries it writes."""

from __future__ import annotations

from contextvars import ContextVar

# Set by the API's middleware for each request (the client's address) and by the CLI's admin
# commands ("local"); thread-pool hops copy it, so a sync route sees its request's value.
client_address: ContextVar[str | None] = ContextVar("warroom_audit_client", default=None)
