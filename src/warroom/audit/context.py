"""Where the request being served comes from, and the entries it has yet to write."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

# Set by the API's middleware for each request (the client's address) and by the CLI's admin
# commands ("local"); thread-pool hops copy it, so a sync route sees its request's value.
client_address: ContextVar[str | None] = ContextVar("warroom_audit_client", default=None)

# The entries a request recorded without a transaction of its own (who reached a restricted
# incident): a list the middleware puts here, so every thread-pool hop of the request adds to
# the same one. The request's first write transaction commits them with its change; the
# middleware writes what is left before the response starts.
deferred: ContextVar[list[Any] | None] = ContextVar("warroom_audit_deferred", default=None)
