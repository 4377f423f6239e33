"""Intake routes: each checks its vendor's authentication on the raw body, then ingests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field

from warroom.api.deps import RuntimeDep, Viewer
from warroom.api.errors import ERROR_RESPONSES, error_response
from warroom.api.intake_steps import (
    configured_instances,
    ingest_alerts,
    parse_body,
    read_body,
    rejection,
    run_guarded,
    unauthorized,
)
from warroom.api.slack_people import linked_role
from warroom.core.errors import Invalid
from warroom.detection import deliveries, metrics
from warroom.detection.api_schemas import IntakeResponse
from warroom.detection.schemas import AlertIn, IngestResult
from warroom.detection.sources import (
    alertmanager,
    grafana,
    jira,
    pagerduty,
    report,
    slack,
    webhook,
)
from warroom.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["intake"], responses=ERROR_RESPONSES)
KINDS = ("alertmanager", "grafana", "pagerduty", "jira", "webhook", "slack/commands")


def _bearer_route(
    source: str,
    check: Callable[[str | None, list[str]], int | None],
    parse: Callable[[bytes], list[AlertIn]],
    what: str,
) -> Callable[..., Any]:
    """Build the handler of a bearer-token intake (Alertmanager, the generic webhook)."""

    async def endpoint(request: Request, runtime: RuntimeDep) -> Any:
        async def handle() -> IntakeResponse:
            instances = configured_instances(runtime, source)
            # The token is in the headers: refuse a stranger before reading any body.
            index = check(
                request.headers.get("authorization"),
                [i.token.get_secret_value() for i in instances],
            )
            if index is None:
                raise unauthorized(source, f"missing or wrong bearer token for the {what}")
            body = await read_body(request, source, runtime.config().detection.max_body_bytes)
            alerts = parse_body(source, parse, body)
            return await ingest_alerts(runtime, source, instances[index].name, alerts)

        return await run_guarded(handle)

    return endpoint


router.post(
    "/intake/alertmanager",
    response_model=IntakeResponse,
    summary="Alertmanager webhook (version 4), with `http_config.authorization` bearer token",
)(
    _bearer_route(
        "alertmanager", alertmanager.check_bearer, alertmanager.parse, "Alertmanager intake"
    )
)
router.post(
    "/intake/webhook",
    response_model=IntakeResponse,
    summary='Generic JSON webhook: one alert, a list, or {"alerts": [...]}; bearer token',
)(_bearer_route("webhook", webhook.check_bearer, webhook.parse, "webhook intake"))


Verify = Callable[[bytes, Any, Any, datetime], int | None]
# The ids that name a delivery (body, headers, signing integration): one seen before is a replay.
DeliveryIds = Callable[[bytes, Any, str], tuple[str, ...]]
# Why no instance accepted a delivery, when it is something other than the signature.
Explain = Callable[[Any, list[Any]], str | None]


def _hmac_route(
    source: str,
    verify: Verify,
    parse: Callable[[bytes], list[AlertIn]],
    header_name: str,
    *,
    ids: DeliveryIds | None = None,
    explain: Explain | None = None,
) -> Callable[..., Any]:
    """Build the handler of an HMAC-signed intake (Grafana, PagerDuty, Jira)."""

    async def endpoint(request: Request, runtime: RuntimeDep) -> Any:
        async def handle() -> IntakeResponse:
            instances = configured_instances(runtime, source)
            body = await read_body(request, source, runtime.config().detection.max_body_bytes)
            now = runtime.clock.now()
            # Each configured instance has its own secrets; the one that signed it names it.
            signer = next(
                (i for i in instances if verify(body, request.headers, i, now) is not None), None
            )
            if signer is None:
                why = explain(request.headers, instances) if explain else None
                raise unauthorized(source, why or f"missing or wrong {header_name} signature")
            alerts = parse_body(source, parse, body)
            named = ids(body, request.headers, signer.name) if ids else ()
            return await ingest_alerts(runtime, source, signer.name, alerts, named)

        return await run_guarded(handle)

    return endpoint


def _verify_grafana(body: bytes, headers: Any, instance: Any, now: datetime) -> int | None:
    return grafana.verify(
        body,
        headers,
        instance.secret_values(),
        now,
        signature_header=instance.signature_header,
        timestamp_header=instance.timestamp_header,
        require_timestamp=instance.require_timestamp,
    )


def _explain_grafana(headers: Any, instances: list[Any]) -> str | None:
    """Name the missing timestamp when every instance that requires one went without it."""
    missing = [
        i.timestamp_header
        for i in instances
        if i.require_timestamp and i.timestamp_header and i.timestamp_header not in headers
    ]
    if missing and len(missing) == len(instances):
        return (
            f"missing {missing[0]}: this Grafana intake requires the signed timestamp "
            "(require_timestamp); name that header in the contact point's HMAC settings"
        )
    return None


def _verify_pagerduty(body: bytes, headers: Any, instance: Any, _now: datetime) -> int | None:
    return pagerduty.verify(body, headers, instance.secret_values())


def _verify_jira(body: bytes, headers: Any, instance: Any, _now: datetime) -> int | None:
    return jira.verify(body, headers, instance.secret_values())


router.post(
    "/intake/grafana",
    response_model=IntakeResponse,
    summary="Grafana unified alerting webhook (X-Grafana-Alerting-Signature)",
)(
    _hmac_route(
        "grafana",
        _verify_grafana,
        grafana.parse,
        "X-Grafana-Alerting-Signature",
        explain=_explain_grafana,
    )
)
router.post(
    "/intake/pagerduty",
    response_model=IntakeResponse,
    summary="PagerDuty V3 webhook (X-PagerDuty-Signature)",
)(
    _hmac_route(
        "pagerduty",
        _verify_pagerduty,
        pagerduty.parse,
        "X-PagerDuty-Signature",
        ids=pagerduty.delivery_ids,
    )
)


class JiraIntakeResponse(IntakeResponse):
    """What a Jira delivery did, including the action items whose status it moved."""

    action_items_updated: list[int] = Field(default_factory=list)


@router.post(
    "/intake/jira",
    response_model=JiraIntakeResponse,
    summary="Jira webhook (X-Hub-Signature): issue_created is a user report, "
    "issue_updated moves linked action items",
)
async def intake_jira(request: Request, runtime: RuntimeDep) -> Any:
    """Open a report for `jira:issue_created`; move linked action items on a status change."""

    async def handle() -> JiraIntakeResponse:
        instances = configured_instances(runtime, "jira")
        body = await read_body(request, "jira", runtime.config().detection.max_body_bytes)
        now = runtime.clock.now()
        signer = next(
            (i for i in instances if _verify_jira(body, request.headers, i, now) is not None), None
        )
        if signer is None:
            raise unauthorized("jira", "missing or wrong X-Hub-Signature signature")
        update = parse_body("jira", jira.parse_update, body)
        named = jira.delivery_ids(body, request.headers, signer.name)
        if update is not None:
            moved = await run_in_threadpool(_sync_action_items, runtime, update, named)
            if moved is None:
                metrics.rejected("jira", "duplicate")
            empty = IngestResult(duplicate=moved is None)
            return JiraIntakeResponse(
                **IntakeResponse.of(empty).model_dump(), action_items_updated=moved or []
            )
        alerts = parse_body("jira", jira.parse, body)
        result = await ingest_alerts(runtime, "jira", signer.name, alerts, named)
        return JiraIntakeResponse(**result.model_dump())

    return await run_guarded(handle)


def _sync_action_items(
    runtime: Runtime, update: jira.IssueUpdate, delivery_ids: tuple[str, ...]
) -> list[int] | None:
    """Give the action items linked to the issue its status; return the ids that changed.

    None for a delivery seen before (a replay or a retry): nothing is changed.
    """
    from warroom.notify.jira_config import item_status
    from warroom.postmortem import action_items as postmortems

    settings = runtime.config().integrations.jira_issues
    status = (
        settings.item_status(update.status, update.category)
        if settings is not None
        else item_status(update.status, update.category)
    )
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        if not deliveries.claim(session, source="jira", ids=delivery_ids, now=now):
            return None
        moved = postmortems.sync_status(
            session,
            issue=update.key,
            status=status,
            actor=(update.user or "Jira")[:64],
            now=now,
        )
    for number in sorted({number for _, number in moved}):
        runtime.flows.refresh(number, "postmortem")
    return [item_id for item_id, _ in moved]


@router.post("/intake/slack/commands")
async def intake_slack_command(request: Request, runtime: RuntimeDep) -> Any:
    """Slack slash command `/incident <title> [sev]` (v0 signature, 5-minute window)."""

    async def handle() -> dict[str, str]:
        instances = configured_instances(runtime, "slack")
        body = await read_body(request, "slack", runtime.config().detection.max_body_bytes)
        if b"%00" in body:  # a NUL in the form-encoded command text
            raise rejection("slack", "invalid", 422, "invalid", "NUL characters are not accepted")
        secret = instances[0].signing_secret.get_secret_value()
        if not slack.verify(body, request.headers, secret, runtime.clock.now()):
            raise unauthorized("slack", "missing, stale or wrong X-Slack-Signature")
        try:
            alert = slack.parse_command(body)
        except Invalid as exc:  # Slack shows a 200's text to the user; a 4xx only as "failed"
            return {"response_type": "ephemeral", "text": exc.message}
        # Declared by a responder (the warroom user linked to the Slack id), it pages at once;
        # anyone else's is a report that waits for a responder's triage, as a viewer's does.
        person, role = await run_in_threadpool(linked_role, runtime, alert.labels.get("slack_user"))
        held = role not in ("responder", "admin")
        alert = replace(alert, reporter=person or alert.reporter, held=held)
        result = await ingest_alerts(runtime, "slack", "slack", [alert])
        refs = result.incidents_opened or result.incidents_updated
        if not refs:
            return {"response_type": "in_channel", "text": "Already reported."}
        text = f"Declared {refs[0]}: {alert.title}"
        if result.incidents_opened and held:
            text += " (a report: nobody is paged until a responder triages it)"
        detail = await run_in_threadpool(runtime.flows.get, refs[0])
        if detail.visibility == "restricted":
            # The channel is not the incident's: only the reporter (a participant) reads it.
            return {"response_type": "ephemeral", "text": text + " It is restricted."}
        return {"response_type": "in_channel", "text": text}

    return await run_guarded(handle)


@router.post("/reports", status_code=201, response_model=IntakeResponse)
async def create_report(
    body: report.ReportIn, runtime: RuntimeDep, principal: Viewer
) -> IntakeResponse:
    """Report a problem (the web form): it becomes its own incident with you as reporter.

    A viewer's report opens at its type's default severity, keeps the severity it suggests,
    and pages nobody until a responder triages it.
    """
    alert = report.to_alert(body, reporter=principal.name, held=principal.role == "viewer")
    return await ingest_alerts(runtime, "web", "web", [alert])


@router.post("/intake/{kind}", include_in_schema=False)
async def unknown_intake(kind: str) -> JSONResponse:
    """Name the intakes that exist."""
    metrics.rejected(kind[:32], "unknown_intake")
    return error_response(
        404, "not_found", f"unknown intake {kind!r}; use one of {', '.join(KINDS)}"
    )
