"""The postmortem editor: summary, impact, root cause, 5 Whys, fishbone, lessons, action items.

The form carries the version it was loaded at. A save against an older version (someone
saved in between) is refused with 409: the page comes back with what you typed still in the
form and the other person's saved text beside it, so you merge and save again; nothing is
overwritten.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from warroom.api.deps import DB_INT_MAX
from warroom.core.errors import NotFound, WarroomError
from warroom.postmortem import STATUSES, export
from warroom.postmortem.schemas import ActionItemCreate, ActionItemPatch, PostmortemOut
from warroom.postmortem.service import StaleVersion
from warroom.web.page import (
    SECURITY_HEADERS,
    PageRoute,
    Responder,
    SignedIn,
    Viewer,
    render,
    see_other,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)
EDITOR = "postmortem/editor.html"
TEXTS = ("summary", "impact", "root_cause")
LISTS = ("contributing_factors", "went_well", "went_poorly", "got_lucky")
LABELS = {
    "summary": "Summary",
    "impact": "Impact",
    "root_cause": "Root cause",
    "five_whys": "5 Whys",
    "fishbone": "Fishbone",
    "contributing_factors": "Contributing factors",
    "went_well": "What went well",
    "went_poorly": "What went poorly",
    "got_lucky": "Where we got lucky",
    "status": "Status",
}
STATUS_WORDS = {"draft": "Draft", "in_review": "In review", "done": "Done"}
EMPTY_WHYS = 2  # blank rows the form offers after the existing ones (no JavaScript needed)
WHYS_OFFERED = 5  # rows on offer at least: the runbook asks why five times
Many = Annotated[list[str], Form()]
Field = Annotated[str, Form()]


def values_of(pm: PostmortemOut) -> dict[str, Any]:
    """Return the editable fields of a saved postmortem, as the form holds them."""
    return {
        "summary": pm.summary,
        "impact": pm.impact,
        "root_cause": pm.root_cause,
        "five_whys": [{"question": w.question, "answer": w.answer} for w in pm.five_whys],
        "fishbone": {name: list(causes) for name, causes in pm.fishbone.items()},
        **{name: list(getattr(pm, name)) for name in LISTS},
        "status": pm.status,
    }


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _differences(mine: dict[str, Any], theirs: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the fields whose saved value differs from what the user typed, both as text."""

    def shown(name: str, value: Any) -> str:
        if name == "five_whys":
            return "\n".join(
                f"{n}. {w['question']} — {w['answer']}" for n, w in enumerate(value, start=1)
            )
        if name == "fishbone":
            return "\n".join(f"{k}: {'; '.join(v)}" for k, v in value.items() if v)
        if name in LISTS:
            return "\n".join(value)
        if name == "status":
            return STATUS_WORDS.get(str(value), str(value))
        return str(value)

    found = []
    for name in LABELS:
        theirs_text, mine_text = shown(name, theirs[name]), shown(name, mine[name])
        if theirs_text != mine_text:
            found.append(
                {"name": name, "label": LABELS[name], "theirs": theirs_text, "mine": mine_text}
            )
    return found


def _jira_base(viewer: Viewer) -> str | None:
    jira = viewer.runtime.config().integrations.jira_issues
    return jira.base_url.rstrip("/") if jira is not None else None


def editor(
    request: Request,
    viewer: Viewer,
    ref: str,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    version: int | None = None,
    error: str | None = None,
    item_error: str | None = None,
    conflict: dict[str, Any] | None = None,
    saved: bool = False,
) -> HTMLResponse:
    """Render the editor (after a refused save: with what was typed and what was wrong)."""
    pm = viewer.runtime.postmortems.get(ref)
    form = values if values is not None else values_of(pm)
    categories = list(form["fishbone"])
    for name in pm.fishbone:  # configured bones the form lost stay on offer
        if name not in categories:
            categories.append(name)
    blanks = max(EMPTY_WHYS, WHYS_OFFERED - len(form["five_whys"]))
    return render(
        request,
        EDITOR,
        viewer,
        status=status,
        pm=pm,
        form=form,
        version=pm.version if version is None else version,
        whys=form["five_whys"] + [{"question": "", "answer": ""}] * blanks,
        categories=categories,
        statuses=[(name, STATUS_WORDS[name]) for name in STATUSES],
        error=error,
        item_error=item_error,
        conflict=conflict,
        saved=saved,
        incident_status=viewer.runtime.flows.summary(ref).status,
        can_edit=viewer.can("responder"),
        jira_base=_jira_base(viewer),
        today=viewer.runtime.clock.now().date(),
        short_items=[i for i in pm.action_items if i.kind == "short_term"],
        long_items=[i for i in pm.action_items if i.kind == "long_term"],
        cause_count=sum(len(c) for c in pm.fishbone.values()),
        people=viewer.runtime.config().people,
        drill_review=viewer.runtime.drills.review_of(ref),  # a drill's: its review
    )


@router.get("/incidents/{ref}/postmortem")
def postmortem_page(ref: str, request: Request, viewer: SignedIn, saved: int = 0) -> HTMLResponse:
    """Show the postmortem (an editor for responders) of a resolved or closed incident."""
    return editor(request, viewer, ref, saved=bool(saved))


@router.post("/incidents/{ref}/postmortem")
def save_postmortem(
    ref: str,
    request: Request,
    viewer: Responder,
    version: Field = "",
    summary: Field = "",
    impact: Field = "",
    root_cause: Field = "",
    why_question: Many = [],  # noqa: B006  (FastAPI copies defaults)
    why_answer: Many = [],  # noqa: B006
    bone_name: Many = [],  # noqa: B006
    bone_causes: Many = [],  # noqa: B006
    contributing_factors: Field = "",
    went_well: Field = "",
    went_poorly: Field = "",
    got_lucky: Field = "",
    status: Field = "draft",
) -> Response:
    """Save the editor's fields, unless someone saved since the form was loaded (409)."""
    whys = [
        {"question": q.strip(), "answer": a.strip()}
        for q, a in zip(why_question, why_answer, strict=False)
        if q.strip() or a.strip()  # the empty rows on offer
    ]
    fishbone: dict[str, list[str]] = {}
    for name, causes in zip(bone_name, bone_causes, strict=False):
        if name.strip() or causes.strip():
            fishbone[name.strip()] = _lines(causes)
    values: dict[str, Any] = {
        "summary": summary,
        "impact": impact,
        "root_cause": root_cause,
        "five_whys": whys,
        "fishbone": fishbone,
        "contributing_factors": _lines(contributing_factors),
        "went_well": _lines(went_well),
        "went_poorly": _lines(went_poorly),
        "got_lucky": _lines(got_lucky),
        "status": status,
    }
    loaded = int(version) if version.strip().isdigit() and len(version) < 10 else None
    if loaded is None:
        return editor(
            request, viewer, ref, status=422, values=values,
            error="the form lost the version it was loaded at; reload the page",
        )  # fmt: skip
    try:
        viewer.runtime.postmortems.save(
            ref, actor=viewer.actor(), values=values, expected_version=loaded
        )
    except StaleVersion as exc:
        theirs = viewer.runtime.postmortems.get(ref)
        conflict = {
            "by": theirs.updated_by,
            "at": theirs.updated_at,
            "version": theirs.version,
            "fields": _differences(values, values_of(theirs)),
        }
        # The form keeps your text and now carries their version: saving again after merging
        # is a deliberate overwrite of what you have seen.
        return editor(
            request, viewer, ref, status=409, values=values, version=exc.current,
            error=exc.message, conflict=conflict,
        )  # fmt: skip
    except WarroomError as exc:
        return editor(
            request, viewer, ref, status=exc.status, values=values, version=loaded,
            error=exc.message,
        )  # fmt: skip
    return see_other(f"/incidents/{ref}/postmortem?saved=1")


def _wrong(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors()
    )


def _item_fields(
    title: str, owner: str, due_date: str, jira_key: str
) -> dict[str, str | date | None]:
    return {
        "title": title.strip(),
        "owner": owner.strip() or None,
        "due_date": due_date.strip() or None,
        "jira_key": jira_key.strip().upper() or None,
    }


@router.post("/incidents/{ref}/postmortem/action-items")
def add_action_item(
    ref: str,
    request: Request,
    viewer: Responder,
    kind: Field = "short_term",
    title: Field = "",
    owner: Field = "",
    due_date: Field = "",
    jira_key: Field = "",
    create_jira: Field = "",
) -> Response:
    """Add a short- or long-term action item (and a Jira issue, when asked)."""
    try:
        body = ActionItemCreate.model_validate(
            {
                "kind": kind,
                **_item_fields(title, owner, due_date, jira_key),
                "create_jira": True if create_jira else None,
            }
        )
    except ValidationError as exc:
        return editor(request, viewer, ref, status=422, item_error=_wrong(exc))
    try:
        viewer.runtime.postmortems.add_item(
            ref,
            actor=viewer.actor(),
            values=body.model_dump(exclude={"create_jira"}),
            create_jira=body.create_jira,
        )
    except WarroomError as exc:
        return editor(request, viewer, ref, status=exc.status, item_error=exc.message)
    return see_other(f"/incidents/{ref}/postmortem#action-items")


@router.post("/incidents/{ref}/postmortem/action-items/{item_id}")
def change_action_item(
    ref: str,
    item_id: Annotated[int, Path(ge=1, le=DB_INT_MAX)],
    request: Request,
    viewer: Responder,
    kind: Field = "short_term",
    title: Field = "",
    owner: Field = "",
    due_date: Field = "",
    jira_key: Field = "",
    status: Field = "open",
) -> Response:
    """Change an action item of this postmortem: every field of its row in the form."""
    runtime = viewer.runtime
    if item_id not in {item.id for item in runtime.postmortems.get(ref).action_items}:
        raise NotFound(f"{ref}'s postmortem has no action item {item_id}")
    try:
        body = ActionItemPatch.model_validate(
            {"kind": kind, "status": status, **_item_fields(title, owner, due_date, jira_key)}
        )
    except ValidationError as exc:
        return editor(request, viewer, ref, status=422, item_error=_wrong(exc))
    try:
        runtime.postmortems.change_item(
            item_id, actor=viewer.actor(), access=viewer.access, changes=body.model_dump()
        )
    except WarroomError as exc:
        return editor(request, viewer, ref, status=exc.status, item_error=exc.message)
    return see_other(f"/incidents/{ref}/postmortem#item-{item_id}")


def _svg(body: str) -> Response:
    headers = dict(SECURITY_HEADERS)
    headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return Response(body, media_type="image/svg+xml", headers=headers)


@router.get("/incidents/{ref}/postmortem/fishbone.svg")
def fishbone_svg(ref: str, viewer: SignedIn) -> Response:
    """The fishbone diagram as saved: the same SVG the API serves."""
    return _svg(export.render_svg(viewer.runtime.postmortems.get(ref)))


@router.get("/incidents/{ref}/postmortem/timeline.svg")
def timeline_svg(ref: str, viewer: SignedIn) -> Response:
    """The timeline picture: the same SVG the API serves."""
    return _svg(export.render_timeline(viewer.runtime.postmortems.get(ref)))
