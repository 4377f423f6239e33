"""Calls to a warroom server for the CLI: the client, one request, its errors in one line."""

from typing import TYPE_CHECKING, Any

from warroom.cli.common import fail

if TYPE_CHECKING:
    from warroom.cli.client import ApiClient, ApiError


def explain_error(exc: "ApiError") -> str:
    """Return the server's error as one line, with a hint where one helps."""
    worded = _in_cli_terms(exc)
    if worded is not None:
        return worded
    message = " ".join(exc.message.split())
    if exc.status == 0:
        message += " (check WARROOM_URL and that `warroom serve` is running there)"
    elif exc.status == 401:
        message += " (check WARROOM_TOKEN)"
    return message


def _in_cli_terms(exc: "ApiError") -> str | None:
    """Say a lifecycle gate's refusal with the commands that settle it, not the API's fields."""
    details = exc.details if isinstance(exc.details, dict) else {}
    ref = details.get("ref")
    if exc.code == "verification_open" and ref:
        items = details.get("open_items") or []
        shown = "; ".join(f"#{i['number']} {str(i['text']).rstrip('.')}" for i in items[:10])
        more = f"; and {len(items) - 10} more" if len(items) > 10 else ""
        return (
            f"{ref} cannot resolve: {len(items)} Verification item(s) still open: {shown}{more}. "
            f"Confirm each with `warroom incident check {ref} N`, or skip one that does not "
            f"apply with `warroom incident skip {ref} N --reason TEXT`; to skip them all, "
            f"resolve with `--skip-verification REASON`."
        )
    if exc.code == "postmortem_not_done" and ref:
        status = details.get("postmortem_status")
        if status is None:
            return f"{ref} needs a postmortem before it closes: resolve it first, then write it"
        due = f" (due {str(details['due_at'])[:10]})" if details.get("due_at") else ""
        worst = details.get("peak_severity")
        owed = f" (it was {worst} at its worst)" if worst != details.get("severity") else ""
        return (
            f"{ref} needs its postmortem done before it closes{owed}; it is "
            f"{str(status).replace('_', ' ')}{due}. Write it with `warroom postmortem edit "
            f"{ref}` (summary, root cause, at least one why) and set `status: done`, then close."
        )
    return None


def api_client() -> "ApiClient":
    """Return a client for WARROOM_URL with WARROOM_TOKEN, or fail saying what is missing."""
    import os

    from warroom.cli.client import ApiClient

    if not os.environ.get("WARROOM_TOKEN", "").strip():
        fail(
            "WARROOM_TOKEN is not set; create a token with `warroom tokens create USER` "
            "and export WARROOM_TOKEN=<token>"
        )
    try:
        return ApiClient.from_env()
    except Exception as exc:  # httpx rejects a malformed base URL when the client is built
        fail(f"WARROOM_URL is not a usable URL: {exc}")


def api_request(
    method: str, path: str, body: Any = None, params: Any = None, api: "ApiClient | None" = None
) -> Any:
    """Send one request (with `api`, else a fresh client); any failure is `error: …`, exit 1."""
    from warroom.cli.client import ApiError

    client = api or api_client()
    try:
        return client.request(method, path, json=body, params=params)
    except ApiError as exc:
        fail(explain_error(exc))
    except ValueError:  # a 2xx answer that is not JSON
        fail(f"{client.base_url} did not answer with JSON; is WARROOM_URL a warroom server?")
    finally:
        if api is None:
            client.close()
