"""A person's own contact methods and rules: codes, limits, names and the rules in force."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select

from tests.conftest import REPO
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.core.errors import Conflict, Invalid, NotFound
from warroom.escalation import contacts
from warroom.escalation import self_service as service
from warroom.escalation import self_service_rules as rules_service
from warroom.escalation.models import ContactMethod
from warroom.runtime import Runtime

PEOPLE = [
    {
        "id": "lena",
        "name": "Lena",
        "email": "lena@example.com",
        "slack": "ULENA1",
        "contact_methods": [{"id": "desk", "type": "voice", "to": "+4930123456"}],
    },
    {
        "id": "omar",
        "name": "Omar",
        "notification_rules": [{"after": "0m", "via": ["email"]}],
        "email": "omar@example.com",
    },
]


@pytest.fixture
def config() -> WarroomConfig:
    """Lena (Slack, e-mail, a desk phone) and Omar (rules of his own in warroom.yaml)."""
    return WarroomConfig.model_validate(
        {
            "people": PEOPLE,
            "notifications": {
                "rules": {
                    "SEV-1": [{"after": "0m", "via": ["chat"]}, {"after": "5m", "via": ["sms"]}],
                    "default": [{"after": "0m", "via": ["email"]}],
                }
            },
        }
    )


def add(runtime: Runtime, name: str = "mobile", kind: str = "sms", to: str = "+49 151 1234567"):
    """Add one of lena's own methods; return (row id, code)."""
    with runtime.db.transaction() as session:
        row, code = service.add(
            session,
            config=runtime.config(),
            person="lena",
            name=name,
            kind=kind,
            address=to,
            now=runtime.clock.now(),
        )
        return row.id, code


def verify(runtime: Runtime, code: str, name: str = "mobile") -> service.Verification:
    """Try a code for lena's method (committed, as the route does)."""
    with runtime.db.transaction() as session:
        return service.verify(
            session,
            config=runtime.config(),
            person="lena",
            name=name,
            code=code,
            now=runtime.clock.now(),
        )


def row(runtime: Runtime, name: str = "mobile") -> ContactMethod:
    """Return lena's row `name`."""
    with runtime.db.session() as session:
        found = session.scalars(select(ContactMethod).where(ContactMethod.name == name)).one()
        session.expunge(found)
        return found


def wrong(code: str) -> str:
    """Return a 6-digit code that is not `code`."""
    return "000000" if code != "000000" else "111111"


def test_a_code_is_stored_only_as_its_sha256_and_verifies_once(runtime: Runtime) -> None:
    _id, code = add(runtime)
    assert len(code) == 6 and code.isdigit()
    stored = row(runtime)
    assert stored.address == "+491511234567"  # spaces dropped
    assert stored.code_hash == hashlib.sha256(code.encode()).hexdigest()
    assert code not in stored.code_hash and stored.verified_at is None
    done = verify(runtime, code)
    assert done.ok and done.message == "mobile is verified: pages can use it now"
    stored = row(runtime)
    assert stored.verified_at == runtime.clock.now()
    assert stored.code_hash is None and stored.code_attempts == 0
    with pytest.raises(Conflict, match="'mobile' is verified already"):
        verify(runtime, code)


def test_five_wrong_codes_end_the_code_and_resend_gives_a_new_one(
    runtime: Runtime, clock: FrozenClock
) -> None:
    _id, code = add(runtime)
    for left in (4, 3, 2, 1):
        said = verify(runtime, wrong(code))
        assert not said.ok and said.message == f"wrong code for 'mobile'; {left} attempt(s) left"
    last = verify(runtime, wrong(code))
    assert last.attempts_left == 0 and "that was the last attempt" in last.message
    assert row(runtime).code_attempts == 5
    with pytest.raises(Conflict, match="5 wrong codes for 'mobile'"):
        verify(runtime, code)  # even the right one: the code is dead
    with runtime.db.transaction() as session, pytest.raises(Conflict, match="ask again in 30 s"):
        service.resend(
            session, config=runtime.config(), person="lena", name="mobile", now=clock.now()
        )
    clock.advance(timedelta(seconds=30))
    with runtime.db.transaction() as session:
        _row, fresh = service.resend(
            session, config=runtime.config(), person="lena", name="mobile", now=clock.now()
        )
    assert row(runtime).code_attempts == 0
    if fresh != code:
        assert not verify(runtime, code).ok  # the old code stopped working
    assert verify(runtime, fresh).ok


def test_a_code_expires_after_15_minutes(runtime: Runtime, clock: FrozenClock) -> None:
    _id, code = add(runtime)
    clock.advance(timedelta(minutes=15))
    assert not verify(runtime, wrong(code)).ok  # still within its 15 minutes: counted
    clock.advance(timedelta(seconds=1))
    with pytest.raises(Conflict, match="has expired \\(codes last 15 minutes\\)"):
        verify(runtime, code)
    assert row(runtime).verified_at is None


@pytest.mark.parametrize(
    ("name", "kind", "to", "error", "message"),
    [
        ("sms", "sms", "+491511234567", Invalid, "name 'sms' is a type of contact method"),
        ("Mobile", "sms", "+491511234567", Invalid, "name 'Mobile' is not 1 to 32 of a-z"),
        ("desk", "sms", "+491511234567", Conflict, "'desk' is already one of your contact"),
        ("chat", "chat", "ULENA2", Invalid, "name 'chat' is a type"),
        ("mobile", "sms", "0151 1234567", Invalid, "is not a phone number in \\+E.164 form"),
        ("mail", "email", "lena-at-example", Invalid, "is not a e-mail address"),
        ("dm", "chat", "lena", Invalid, "is not a Slack user id"),
        ("pager", "fax", "+491511234567", Invalid, "unknown contact method type 'fax'"),
        ("hook", "push", "json://10.0.0.1/x", Invalid, "push URLs of type json:// are not"),
        # warroom sends the code at once: not to a host only it can reach (SSRF)
        ("inside", "push", "ntfy://10.0.0.5:8080/x", Invalid, "hosts of warroom's own network"),
        ("loop", "push", "ntfy://127.0.0.1:9/x", Invalid, "hosts of warroom's own network"),
        ("named", "push", "gotify://localhost/token", Invalid, "hosts of warroom's own network"),
        ("v6", "push", "ntfy://[::1]:9/x", Invalid, "hosts of warroom's own network"),
    ],
)
def test_names_and_addresses_are_checked(
    runtime: Runtime, name: str, kind: str, to: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        add(runtime, name, kind, to)
    with runtime.db.session() as session:
        assert session.scalars(select(ContactMethod)).all() == []


def test_names_are_unique_and_a_person_has_at_most_ten(runtime: Runtime) -> None:
    add(runtime, "mobile")
    with pytest.raises(Conflict, match="you already have a contact method named 'mobile'"):
        add(runtime, "mobile", "email", "lena@home.example")
    for number in range(9):
        add(runtime, f"mail-{number}", "email", f"lena{number}@example.com")
    with pytest.raises(Conflict, match="you have 10 contact methods of your own"):
        add(runtime, "one-more", "email", "lena@more.example")


def test_only_people_of_warroom_yaml_have_methods(runtime: Runtime) -> None:
    with runtime.db.session() as session, pytest.raises(Conflict, match="not a person under"):
        service.list_methods(session, config=runtime.config(), person="ghost")


def test_listing_marks_warroom_yaml_methods_read_only(runtime: Runtime) -> None:
    add(runtime)
    with runtime.db.session() as session:
        views = service.list_methods(session, config=runtime.config(), person="lena")
    assert [(v.name, v.kind, v.source, v.verified, v.read_only) for v in views] == [
        ("chat", "chat", "warroom.yaml", True, True),
        ("email", "email", "warroom.yaml", True, True),
        ("desk", "voice", "warroom.yaml", True, True),
        ("mobile", "sms", "own", False, False),
    ]
    with runtime.db.transaction() as session, pytest.raises(Conflict, match=r"from warroom\.yaml"):
        service.remove(session, config=runtime.config(), person="lena", name="desk")
    with runtime.db.transaction() as session, pytest.raises(NotFound, match="no contact method"):
        service.remove(session, config=runtime.config(), person="lena", name="nothing")


def set_rules(
    runtime: Runtime, steps: list[object], person: str = "lena"
) -> rules_service.EffectiveRules:
    """Set `person`'s own rules."""
    with runtime.db.transaction() as session:
        return rules_service.set_rules(
            session, config=runtime.config(), person=person, steps=steps, now=runtime.clock.now()
        )


def effective(runtime: Runtime, person: str = "lena") -> rules_service.EffectiveRules:
    """Return the rules in force for `person`."""
    with runtime.db.session() as session:
        return rules_service.effective_rules(session, config=runtime.config(), person=person)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "give at least one step"),
        ([{"after": "0m", "via": ["fax"]}], "step 1: 'fax' is neither one of your contact"),
        ([{"after": "5", "via": ["sms"]}], "step 1: after 5 is not a duration: write 5m"),
        ([{"after": "0m", "via": []}], "step 1: via must have at least 1 item"),
        ([{"after": "5m", "via": ["sms"]}, {"after": "1m", "via": ["chat"]}], "in order of"),
        ([{"after": "25h", "via": ["sms"]}], "waits at most 24h"),
        ([{"after": f"{n}m", "via": ["sms"]} for n in range(11)], "11 steps; at most 10"),
        ([{"after": "0m", "via": ["sms"], "repeat": 2}], "step 1: repeat"),
    ],
)
def test_rules_are_checked_with_clear_messages(
    runtime: Runtime, steps: list[object], message: str
) -> None:
    with pytest.raises(Invalid, match=message):
        set_rules(runtime, steps)
    assert effective(runtime).source == "notifications.rules"


def test_effective_rules_own_then_warroom_yaml_then_defaults(runtime: Runtime) -> None:
    defaults = effective(runtime)
    assert defaults.source == "notifications.rules" and defaults.steps == []
    assert [s.via for s in defaults.by_severity["SEV-1"]] == [["chat"], ["sms"]]
    assert [s.via for s in defaults.by_severity["SEV-3"]] == [["email"]]
    omar = effective(runtime, "omar")
    assert omar.source == "warroom.yaml" and [s.via for s in omar.steps] == [["email"]]
    add(runtime)
    own = set_rules(runtime, [{"after": "0m", "via": ["chat"]}, {"after": "2m", "via": ["mobile"]}])
    assert own.warnings == ["mobile is not verified yet: pages skip it until it is"]
    mine = effective(runtime)
    assert mine.source == "own" and [s.after.total_seconds() for s in mine.steps] == [0, 120]
    set_rules(runtime, [{"after": "0m", "via": ["email"]}], person="omar")
    assert effective(runtime, "omar").source == "own"
    with runtime.db.transaction() as session:
        back = rules_service.clear_rules(session, config=runtime.config(), person="omar")
    assert back.source == "warroom.yaml"
    with runtime.db.transaction() as session, pytest.raises(NotFound, match="no rules of your"):
        rules_service.clear_rules(session, config=runtime.config(), person="omar")


def test_removing_a_method_the_rules_name_warns(runtime: Runtime) -> None:
    add(runtime)
    set_rules(runtime, [{"after": "0m", "via": ["mobile", "chat"]}])
    with runtime.db.transaction() as session:
        said = service.remove(session, config=runtime.config(), person="lena", name="mobile")
    assert said == [
        "your notification rules name 'mobile': those steps now skip it "
        "(change them with `warroom me rules set`)"
    ]
    assert effective(runtime).source == "own"


def test_an_unverified_method_is_not_paged_a_verified_one_is(runtime: Runtime) -> None:
    _id, code = add(runtime)
    set_rules(
        runtime, [{"after": "0m", "via": ["chat"]}, {"after": "2m", "via": ["mobile", "sms"]}]
    )
    channels = {"chat", "sms"}

    def planned() -> list[dict[str, object]]:
        with runtime.db.session() as session:
            directory = contacts.Directory(session, runtime.config())
        steps, where = directory.rules("lena", "SEV-1")
        assert where == "their own (API)"
        return contacts.plan(steps, directory.methods("lena"), channels)

    before = planned()
    assert before == [
        {"after": 0, "methods": [{"name": "chat", "kind": "chat", "address": "ULENA1"}]}
    ]  # the SMS step had nothing verified left, so it dropped out
    assert verify(runtime, code).ok
    after = planned()
    assert after[1] == {
        "after": 120,
        "methods": [{"name": "mobile", "kind": "sms", "address": "+491511234567"}],
    }


def test_parse_step_reads_what_people_type() -> None:
    assert rules_service.parse_step(" 2m: sms, voice ") == {"after": "2m", "via": ["sms", "voice"]}
    with pytest.raises(Invalid, match="write it as `2m: sms, voice`"):
        rules_service.parse_step("2m sms")


def test_the_docs_examples_are_valid_configuration() -> None:
    doc = (REPO / "docs" / "notification-rules.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, flags=re.S)
    assert len(blocks) == 2
    alice = WarroomConfig.model_validate(yaml.safe_load(blocks[0])).person("alice")
    assert alice is not None
    assert [m.id for m in alice.methods()] == [
        "chat",
        "email",
        "sms",
        "voice",
        "desk",
        "phone-push",
    ]
    defaults = WarroomConfig.model_validate(yaml.safe_load(blocks[1])).notifications
    assert [s.via for s in defaults.rules_for("SEV-1")] == [["push", "chat"], ["sms"], ["voice"]]
    assert [s.via for s in defaults.rules_for("SEV-3")] == [["chat", "email"]]
    for line in re.findall(r"```text\n(.*?)```", doc, flags=re.S)[0].splitlines():
        rules_service.parse_step(line)
