"""A drill's e-mail through a real SMTP server (aiosmtpd): every subject says [DRILL]."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.drills.conftest import start
from tests.notify.test_smtp import Recorder, smtp_server  # noqa: F401  (the fixture)
from warroom.config import WarroomConfig
from warroom.runtime import Runtime


@pytest.fixture
def mailbox(smtp_server: Callable[..., tuple[Recorder, int]]) -> tuple[Recorder, int]:  # noqa: F811
    """A real SMTP server on 127.0.0.1."""
    return smtp_server()


@pytest.fixture
def config(mailbox: tuple[Recorder, int]) -> WarroomConfig:
    """alice on call for checkout, paged by e-mail; the executives on the SMTP settings."""
    _, port = mailbox
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "alice", "name": "Alice", "email": "alice@example.com"}],
            "schedules": [
                {
                    "id": "shop",
                    "timezone": "UTC",
                    "layers": [
                        {"name": "primary", "rotation": {"every": "1w", "participants": ["alice"]}}
                    ],
                }
            ],
            "services": [{"id": "checkout", "schedule": "shop"}],
            "integrations": {
                "smtp": {
                    "host": "127.0.0.1",
                    "port": port,
                    "from": "warroom@example.com",
                    "executives": ["cto@example.com"],
                }
            },
            "notifications": {"page_via": ["email"]},
        }
    )


@pytest.mark.parametrize("scenario", ["high-cpu", "data-breach"])
def test_every_subject_says_drill(
    api: TestClient, runtime: Runtime, mailbox: tuple[Recorder, int], scenario: str
) -> None:
    handler, _ = mailbox
    runtime.engine.sender.workers = 1
    start(api, scenario=scenario)
    for _ in range(3):
        runtime.engine.run_once()
    messages = [handler.message(i) for i in range(len(handler.envelopes))]
    subjects = {
        str(m["Subject"]): list(handler.envelopes[i].rcpt_tos) for i, m in enumerate(messages)
    }
    assert subjects, "alice is paged by e-mail"
    assert all("[DRILL]" in subject for subject in subjects)
    executives = [s for s, to in subjects.items() if to == ["cto@example.com"]]
    # data-breach practises the executive e-mail (its scenario allows it); high-cpu does not.
    assert len(executives) == (1 if scenario == "data-breach" else 0)
    paged = [s for s, to in subjects.items() if to == ["alice@example.com"]]
    assert paged and all(s.endswith("you are paged") for s in paged)
