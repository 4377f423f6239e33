"""The timeline picture: phases as bands, milestones on the axis, key events above, valid SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from warroom.postmortem.schemas import Milestones, Spans, TimelineEntry, TimelineSection
from warroom.postmortem.timeline_chart import CHAR_WIDTH, WIDTH, render

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 3, 2, 8, 51, tzinfo=UTC)
NO_SPANS = Spans(
    detection_to_triage=None,
    triage_to_mitigation=None,
    mitigation_to_resolution=None,
    time_to_detect=None,
    time_to_acknowledge=None,
    time_to_mitigate=None,
    time_to_resolve=None,
)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def section(events: list[tuple[float, str]], **milestones: datetime | None) -> TimelineSection:
    stamps: dict[str, datetime | None] = {
        "started": minutes(0),
        "detected": minutes(9),
        "acknowledged": minutes(11),
        "triaged": minutes(17),
        "mitigated": minutes(44),
        "resolved": minutes(95),
    }
    stamps.update(milestones)
    return TimelineSection(
        milestones=Milestones(**stamps),  # type: ignore[arg-type]
        durations=NO_SPANS,
        events=[
            TimelineEntry(at=minutes(m), kind="note", actor="rita", text=text, key_event=True)
            for m, text in events
        ]
        + [
            TimelineEntry(
                at=minutes(50), kind="note", actor=None, text="unstarred", key_event=False
            )
        ],
    )


def groups(root: ET.Element, kind: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == kind]


def text_of(element: ET.Element) -> str:
    return "".join(t.text or "" for t in element.iter(f"{SVG}text"))


def test_phases_milestones_and_key_events() -> None:
    events = [(9, "Prometheus alert HighCPUUsage fired"), (30, "Rolled back checkout")]
    root = ET.fromstring(render("High CPU usage on checkout", section(events)).split("?>", 1)[1])
    assert root.find(f"{SVG}title").text == "Timeline: High CPU usage on checkout"  # type: ignore[union-attr]
    phases = {g.find(f"{SVG}title").text for g in groups(root, "phase")}  # type: ignore[union-attr]
    assert phases == {
        "Impact before detection: 9m",
        "Triage: 8m",
        "Mitigation: 27m",
        "Verification: 51m",
    }
    marks = {g.get("data-milestone"): text_of(g) for g in groups(root, "milestone")}
    assert marks == {
        "started": "Impact began 08:51",
        "detected": "Detected 09:00",
        "acknowledged": "Acknowledged 09:02",
        "triaged": "Triaged 09:08",
        "mitigated": "Mitigated 09:35",
        "resolved": "Resolved 10:26",
    }
    starred = [text_of(g) for g in groups(root, "key-event")]
    assert starred == ["★ Prometheus alert HighCPUUsage fired", "★ Rolled back checkout"]
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("font-size") == "11"]
    assert "09:00" in ticks and "10:00" in ticks  # round 15-minute ticks on the axis


def test_labels_stay_inside_and_do_not_overlap() -> None:
    crowded = [(9 + i * 0.5, f"event number {i} with a fairly long description") for i in range(8)]
    root = ET.fromstring(render("Crowded", section(crowded)).split("?>", 1)[1])
    boxes = []
    for g in groups(root, "key-event") + groups(root, "milestone"):
        label = g.find(f"{SVG}text")
        assert label is not None
        left, y = float(label.get("x", "0")), float(label.get("y", "0"))
        right = left + len(label.text or "") * CHAR_WIDTH
        assert left >= 0 and right <= WIDTH, label.text
        boxes.append((y, left, right))
    for index, (y, left, right) in enumerate(boxes):
        for other_y, other_left, other_right in boxes[index + 1 :]:
            if y == other_y:
                assert right < other_left or other_right < left  # same row: no overlap


def test_missing_milestones_draw_only_known_phases() -> None:
    open_incident = section([], started=None, mitigated=None, resolved=None)
    root = ET.fromstring(render("Still open", open_incident).split("?>", 1)[1])
    assert [g.find(f"{SVG}title").text for g in groups(root, "phase")] == ["Triage: 8m"]  # type: ignore[union-attr]
    assert [g.get("data-milestone") for g in groups(root, "milestone")] == [
        "detected",
        "acknowledged",
        "triaged",
    ]


def test_hostile_text_is_escaped_and_long_incidents_show_dates() -> None:
    nasty = "<script>alert(1)</script> & \x00\x1b done"
    long = section([(60, nasty)], resolved=minutes(3 * 24 * 60))
    svg = render("A & B <b>", long)
    root = ET.fromstring(svg.split("?>", 1)[1])  # parses: escaped, no forbidden characters
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ticks = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("font-size") == "11"]
    assert any(tick.startswith("03-0") for tick in ticks)  # days apart: ticks carry the date
    (verification,) = [
        g
        for g in groups(root, "phase")
        if "Verification" in (g.find(f"{SVG}title").text or "")  # type: ignore[union-attr]
    ]
    assert verification.find(f"{SVG}title").text == "Verification: 2d 23h"  # type: ignore[union-attr]


def test_a_one_instant_incident_still_draws() -> None:
    same = section([], started=None, acknowledged=None, triaged=minutes(9), mitigated=minutes(9))
    same.milestones.resolved = minutes(9)
    root = ET.fromstring(render("False alarm", same).split("?>", 1)[1])
    assert len(groups(root, "milestone")) == 4
