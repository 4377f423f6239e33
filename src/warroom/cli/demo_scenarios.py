"""The runbook's two examples as data: what `warroom demo` declares and does, step by step."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    """One API call on a declared incident: a note, the acknowledgement or a lifecycle action."""

    phase: str
    label: str
    # "note", "verify" (tick the Verification checklist), "postmortem" (write it), or an
    # incident action: "acknowledge", "triage", "mitigate", "resolve" or "close"
    action: str
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Scenario:
    """One runbook example: the incident to declare and the steps that follow."""

    name: str
    declare: dict[str, Any]
    declare_label: str
    steps: list[Step] = field(default_factory=list)


def note(phase: str, label: str, text: str, *, key_event: bool = False) -> Step:
    """Return a step that adds a timeline note."""
    return Step(phase, label, "note", {"text": text, "key_event": key_event})


HIGH_CPU_POSTMORTEM: dict[str, Any] = {
    "status": "done",
    "summary": "A memory leak in the new recommendations feature drove checkout CPU above 90%.",
    "impact": "Checkout p95 latency up to 4 s for 40 minutes; some payments timed out.",
    "root_cause": "Recommendations cached every response without a bound, so GC ran hot.",
    "five_whys": [
        {"question": "Why was checkout slow?", "answer": "CPU was above 90% on every pod."},
        {"question": "Why was CPU so high?", "answer": "The garbage collector ran constantly."},
        {"question": "Why did GC run constantly?", "answer": "Memory grew without bound."},
        {"question": "Why did memory grow?", "answer": "A new cache had no size limit."},
        {"question": "Why was there no limit?", "answer": "Review has no check for caches."},
    ],
    "fishbone": {
        "Process": ["Code review has no check for unbounded caches"],
        "Technology": ["Unbounded in-process cache"],
        "Tools": ["No memory-growth alert before CPU saturated"],
    },
    "went_well": ["The rollback took four minutes"],
    "went_poorly": ["The alert fired ten minutes after latency rose"],
}

HIGH_CPU = Scenario(
    name="Example 1: High CPU Usage",
    declare={
        "title": "High CPU usage on checkout",
        "incident_type": "resource-saturation",
        "severity": "SEV-2",
        "service": "checkout",
        "commander": "alice",  # the on-call engineer is the initial IC
        "summary": (
            "Prometheus alert HighCPUUsage fired for the checkout service: CPU above 90% "
            "on every pod for 10 minutes, and checkout requests are slowing down."
        ),
    },
    declare_label="declared from the Prometheus alert HighCPUUsage",
    steps=[
        note(
            "Detection",
            "Prometheus alert recorded (key event)",
            "Prometheus alert HighCPUUsage fired: checkout CPU above 90% for 10 minutes",
            key_event=True,
        ),
        Step("Triage", "acknowledged by the on-call engineer", "acknowledge"),
        Step(
            "Triage",
            "assessed: SEV-2, P2 (alice, on call, is Incident Commander)",
            "triage",
            {
                "severity": "SEV-2",
                "impact": "Checkout is slow (p95 latency up to 4 s); some payments time out.",
                "scope": "The checkout service in every region; other services are unaffected.",
                "priority": "P2",
                "note": "the on-call engineer is the IC",
            },
        ),
        note(
            "Escalation",
            "development team notified in Slack",
            "Development team notified in Slack #incident-response",
        ),
        note(
            "Mitigation",
            "checkout rolled back",
            "Rolled back checkout to the previous version",
        ),
        Step(
            "Mitigation",
            "impact stopped",
            "mitigate",
            {"note": "CPU back under 40% after the rollback"},
        ),
        Step(
            "Mitigation",
            "verification checklist done",
            "verify",
            {"note": "CPU under 40% and p95 latency under 300 ms for 30 minutes"},
        ),
        Step(
            "Mitigation",
            "verified",
            "resolve",
            {"note": "CPU and checkout latency normal for 30 minutes"},
        ),
        note(
            "Postmortem",
            "root cause recorded (key event)",
            "Root cause: a memory leak in a new feature",
            key_event=True,
        ),
        Step("Postmortem", "postmortem written and reviewed", "postmortem", HIGH_CPU_POSTMORTEM),
        Step("Postmortem", "postmortem done", "close", {"note": "postmortem reviewed"}),
    ],
)

DATA_BREACH = Scenario(
    name="Example 2: Data Breach",
    declare={
        "title": "Customer reports their account data was compromised",
        "incident_type": "security",
        "severity": "SEV-1",
        "visibility": "restricted",
        "commander": "bob",  # the on-call engineer is the initial IC
        "summary": (
            "A customer reports that someone else changed their account and downloaded their "
            "invoices. Treated as a possible data breach until proven otherwise."
        ),
    },
    declare_label="declared from a user report (restricted)",
    steps=[
        note(
            "Detection",
            "the user's report recorded (key event)",
            'User report via support: "Someone changed the email address on my account and '
            'downloaded my invoices. I did not do this."',
            key_event=True,
        ),
        Step("Triage", "acknowledged by the on-call engineer", "acknowledge"),
        Step(
            "Triage",
            "assessed: SEV-1, P1 (bob, on call, is Incident Commander)",
            "triage",
            {
                "severity": "SEV-1",
                "impact": "One customer's personal data exposed; more accounts may be affected.",
                "scope": "Customer accounts in the web app; the attack path is being traced.",
                "priority": "P1",
                "note": "the on-call engineer is the IC",
            },
        ),
        note(
            "Escalation",
            "executive team notified by email",
            "Executive team notified by email",
        ),
        note(
            "Mitigation",
            "affected account disabled",
            "Disabled the affected user's account",
        ),
        Step(
            "Mitigation",
            "impact stopped",
            "mitigate",
            {"note": "no further access to the account since it was disabled"},
        ),
        note(
            "Postmortem",
            "postmortem started",
            "Postmortem in progress: suspected SQL injection in the search endpoint",
        ),
    ],
)

SCENARIOS = (HIGH_CPU, DATA_BREACH)
