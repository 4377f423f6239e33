"""Every table's model, imported so `Base.metadata` is complete (for Alembic and tests)."""

from warroom.audit.models import AuditEntry, AuditHead
from warroom.auth.models import ApiToken, User
from warroom.auth.oidc_models import OidcIdentity, OidcLogin
from warroom.auth.sessions import BrowserSession
from warroom.auth.totp import RecoveryCode, UserTotp
from warroom.detection.models import Alert, AlertGroup, Silence
from warroom.drills.models import Drill, DrillStep
from warroom.escalation.models import Escalation
from warroom.evidence.models import CustodyEntry, EvidenceItem
from warroom.incidents.models import (
    ChecklistItem,
    Incident,
    IncidentGrant,
    IncidentRole,
    TimelineEvent,
)
from warroom.notify.models import Notification
from warroom.oncall.models import OverrideRow
from warroom.postmortem.models import ActionItem, Postmortem  # noqa: F401  (metadata sees it)
from warroom.search.models import SearchDocument
from warroom.status.models import StatusUpdate  # noqa: F401  (metadata sees it)
from warroom.storage.base import Base
from warroom.storage.counters import Counter

__all__ = [
    "Alert",
    "AlertGroup",
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "Base",
    "BrowserSession",
    "ChecklistItem",
    "Counter",
    "CustodyEntry",
    "Drill",
    "DrillStep",
    "Escalation",
    "EvidenceItem",
    "Incident",
    "IncidentGrant",
    "IncidentRole",
    "Notification",
    "OidcIdentity",
    "OidcLogin",
    "OverrideRow",
    "RecoveryCode",
    "SearchDocument",
    "Silence",
    "TimelineEvent",
    "User",
    "UserTotp",
]
