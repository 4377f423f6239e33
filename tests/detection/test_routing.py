"""Alert routing: route and detection config models, check_routes, Router.decide."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from warroom.detection.routing import (
    DEFAULT_SEVERITY_MAP,
    DetectionConfig,
    RouteConfig,
    Router,
    check_detection,
    check_routes,
)
from warroom.detection.schemas import RouteDecision

SEVERITIES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")

DESIGN_EXAMPLE = """
routes:                           # Alertmanager-style matchers, first match wins
  - {match: ['service="checkout"', 'severity=~"critical|sev1"'], service: checkout, severity: SEV-1}
  - {match: ['service="checkout"'], service: checkout, severity: SEV-2, group_by: [alertname]}
  - {default: true, severity: SEV-3}
"""


def routes_of(*items: dict[str, Any]) -> list[RouteConfig]:
    """Validate route dicts as they would appear in warroom.yaml."""
    return [RouteConfig.model_validate(item) for item in items]


def router(*items: dict[str, Any], **detection: Any) -> Router:
    """Build a router over the runbook's four severities."""
    return Router(routes_of(*items), DetectionConfig.model_validate(detection), SEVERITIES)


def errors_of(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Return (loc, msg) of each validation error for one route."""
    with pytest.raises(ValidationError) as caught:
        RouteConfig.model_validate(data)
    return [(tuple(error["loc"]), error["msg"]) for error in caught.value.errors()]


# --- the DESIGN §9 example ---------------------------------------------------------------


def test_design_example() -> None:
    data = yaml.safe_load(DESIGN_EXAMPLE)
    routes = [RouteConfig.model_validate(item) for item in data["routes"]]
    assert check_routes(routes, SEVERITIES) == []
    design = Router(routes, DetectionConfig(), SEVERITIES)

    first = design.decide({"service": "checkout", "severity": "critical", "alertname": "CPU"})
    assert first == RouteDecision(route=0, service="checkout", severity="SEV-1")

    second = design.decide({"service": "checkout", "severity": "warning", "alertname": "CPU"})
    assert second == RouteDecision(
        route=1, service="checkout", severity="SEV-2", group_by=("alertname",)
    )

    # Anchored: "sev12" is not "sev1", so the second route takes it.
    assert design.decide({"service": "checkout", "severity": "sev12"}).route == 1

    other = design.decide({"service": "search", "severity": "critical"})
    assert other == RouteDecision(route=None, severity="SEV-3")
    assert design.decide({}) == RouteDecision(route=None, severity="SEV-3")


# --- route config --------------------------------------------------------------------------


def test_continue_by_alias_and_by_name() -> None:
    by_alias = RouteConfig.model_validate({"match": ['a="b"'], "continue": True})
    by_name = RouteConfig.model_validate({"match": ['a="b"'], "continue_": True})
    assert by_alias.continue_ and by_name.continue_
    assert RouteConfig(match=['a="b"'], continue_=True).continue_


def test_matchers_are_parsed_once() -> None:
    route = RouteConfig(match=['a="b"', 'c!~"d.*"'])
    assert [str(m) for m in route.matchers] == ['a="b"', 'c!~"d.*"']
    assert route.matchers is route.matchers
    assert route.matches({"a": "b", "c": "x"})
    assert not route.matches({"a": "b", "c": "dd"})


def test_invalid_matcher_names_its_position() -> None:
    assert errors_of({"match": ['a="b"', "service=checkout"]}) == [
        (
            ("match", 1),
            "invalid matcher 'service=checkout': the value must be in double quotes",
        )
    ]
    [(loc, message)] = errors_of({"match": ['x=~"("']})
    assert loc == ("match", 0)
    assert message.startswith("invalid matcher 'x=~\"(\"': invalid regular expression '('")


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        ({"default": True, "match": ['a="b"']}, (), "a default route has no match list"),
        ({"service": "checkout"}, (), "a route needs a match list, or default: true"),
        ({"match": []}, (), "a route needs a match list, or default: true"),
        ({"match": ['a="b"'], "drop": True, "continue": True}, (), "a drop route cannot continue"),
        ({"default": True, "matchers": ['a="b"']}, ("matchers",), "Extra inputs"),
        ({"default": True, "severity": "critical"}, ("severity",), "should match pattern"),
        ({"default": True, "severity": "SEV-10"}, ("severity",), "should match pattern"),
        ({"default": True, "service": ""}, ("service",), "at least 1 character"),
        ({"default": True, "group_by": ["ok", "not-ok"]}, ("group_by", 1), "'not-ok'"),
        ({"default": True, "group_by": []}, ("group_by",), "at least 1 item"),
        ({"default": True, "title": "{{ labels.x "}, ("title",), "invalid title template: "),
        ({"default": True, "title": "{% if %}"}, ("title",), "(line 1)"),
        ({"default": True, "match": "a"}, ("match",), "valid list"),
    ],
)
def test_route_validation(data: dict[str, Any], loc: tuple[Any, ...], message: str) -> None:
    problems = errors_of(data)
    assert any(got_loc == loc and message in got for got_loc, got in problems), problems
    assert not any(got.startswith("Value error") for _, got in problems)


# --- check_routes ----------------------------------------------------------------------


def test_check_routes_reports_index_and_message() -> None:
    routes = routes_of(
        {"default": True},
        {"match": ['a="b"'], "severity": "SEV-9"},
        {"default": True, "severity": "SEV-5"},
    )
    assert check_routes(routes, SEVERITIES) == [
        (0, "the default route must be the last route"),
        (1, "unknown severity 'SEV-9'; known: SEV-1, SEV-2, SEV-3, SEV-4"),
        (2, "only one default route is allowed (routes.0 is one)"),
        (2, "unknown severity 'SEV-5'; known: SEV-1, SEV-2, SEV-3, SEV-4"),
    ]
    assert check_routes([], SEVERITIES) == []
    assert check_routes(routes_of({"default": True, "severity": "SEV-5"}), ["SEV-5"]) == []


def test_router_refuses_invalid_routes() -> None:
    with pytest.raises(ValueError, match=r"routes\.0: the default route must be the last"):
        router({"default": True}, {"match": ['a="b"']})
    with pytest.raises(ValueError, match=r"detection\.default_severity: unknown severity"):
        Router([], DetectionConfig(default_severity="SEV-3"), ["SEV-1", "SEV-2"])


# --- first match, continue, drop, default ------------------------------------------------


def test_first_match_wins() -> None:
    routing = router(
        {"match": ['service="checkout"'], "team": "payments", "service": "checkout"},
        {"match": ['service=~"check.*"'], "team": "other", "incident_type": "security"},
    )
    decision = routing.decide({"service": "checkout"})
    assert (decision.route, decision.team, decision.incident_type) == (0, "payments", None)
    assert routing.decide({"service": "checkout2"}).team == "other"
    assert routing.decide({"service": "search"}).route is None
    assert routing.matching({"service": "checkout"}) == [0]


def test_continue_fills_only_unset_fields() -> None:
    routing = router(
        {"match": ['env="prod"'], "continue": True, "team": "sre", "group_by": ["env"]},
        {"match": ['service="checkout"'], "continue": True, "team": "payments", "service": "co"},
        {"match": ['alertname="CPU"'], "incident_type": "resource-saturation", "severity": "SEV-2"},
        {"match": ['service="checkout"'], "title": "never", "severity": "SEV-1"},
        {"default": True, "severity": "SEV-4", "team": "fallback"},
    )
    labels = {"env": "prod", "service": "checkout", "alertname": "CPU"}
    assert routing.matching(labels) == [0, 1, 2]  # the chain stops at route 2 (no continue)
    assert routing.decide(labels) == RouteDecision(
        route=0,
        team="sre",
        service="co",
        incident_type="resource-saturation",
        severity="SEV-2",
        group_by=("env",),
    )
    # Route 1 continues but nothing later matches except route 3.
    decision = routing.decide({"service": "checkout"})
    assert (decision.route, decision.team, decision.severity, decision.title) == (
        1,
        "payments",
        "SEV-1",
        "never",
    )
    # A chain that runs off the end never reaches the default route.
    alone = routing.decide({"env": "prod", "severity": "warning"})
    assert alone == RouteDecision(route=0, team="sre", severity="SEV-3", group_by=("env",))
    assert routing.decide({"env": "dev"}) == RouteDecision(
        route=None, team="fallback", severity="SEV-4"
    )


def test_continue_and_auto_mitigate() -> None:
    routing = router(
        {"match": ['a="1"'], "continue": True, "auto_mitigate": False},
        {"match": ['b="1"'], "continue": True},
        {"match": ['c="1"'], "auto_mitigate": True},
    )
    assert routing.decide({"a": "1", "c": "1"}).auto_mitigate is False  # written by route 0
    assert routing.decide({"b": "1", "c": "1"}).auto_mitigate is True  # unset by route 1
    assert routing.decide({"b": "1"}).auto_mitigate is False


def test_drop() -> None:
    routing = router(
        {"match": ['alertname="Watchdog"'], "drop": True},
        {"match": ['env="prod"'], "continue": True, "team": "sre"},
        {"match": ['alertname="Noise"'], "drop": True, "team": "noise"},
        {"default": True},
    )
    dropped = routing.decide({"alertname": "Watchdog", "env": "prod"})
    assert (dropped.route, dropped.drop) == (0, True)
    # Only the winning route decides `drop`; a continued route fills fields, not `drop`.
    continued = routing.decide({"alertname": "Noise", "env": "prod"})
    assert (continued.route, continued.drop, continued.team) == (1, False, "sre")
    assert routing.decide({"alertname": "Noise"}).drop is True
    assert routing.decide({"alertname": "Other"}).drop is False


def test_no_routes() -> None:
    routing = router()
    assert routing.decide({"severity": "critical"}) == RouteDecision(route=None, severity="SEV-1")
    assert routing.decide({}, severity_hint="P2") == RouteDecision(route=None, severity="SEV-2")
    assert routing.decide({}) == RouteDecision(route=None, severity="SEV-3")
    assert routing.matching({}) == []


def test_group_by_and_auto_mitigate_are_passed_on() -> None:
    routing = router({"default": True, "group_by": ["alertname", "cluster"], "auto_mitigate": True})
    decision = routing.decide({})
    assert decision.group_by == ("alertname", "cluster")
    assert decision.auto_mitigate is True


# --- severity -------------------------------------------------------------------------


def test_severity_order_fixed_label_hint_default() -> None:
    routing = router(
        {"match": ['fixed="yes"'], "severity": "SEV-4"},
        {"match": ['fixed="no"'], "team": "t"},
    )
    fixed = {"fixed": "yes", "severity": "critical"}
    assert routing.decide(fixed, severity_hint="P1").severity == "SEV-4"
    label = {"fixed": "no", "severity": "critical"}
    assert routing.decide(label, severity_hint="P3").severity == "SEV-1"
    unknown_label = {"fixed": "no", "severity": "bananas"}
    assert routing.decide(unknown_label, severity_hint="P2").severity == "SEV-2"
    assert routing.decide({"fixed": "no"}, severity_hint="low").severity == "SEV-4"
    assert routing.decide({"fixed": "no"}, severity_hint="bananas").severity == "SEV-3"
    assert routing.decide({"fixed": "no"}).severity == "SEV-3"


@pytest.mark.parametrize(("word", "level"), sorted(DEFAULT_SEVERITY_MAP.items()))
def test_every_default_map_entry(word: str, level: str) -> None:
    routing = router()
    assert routing.decide({"severity": word}).severity == level
    assert routing.decide({"severity": f" {word.upper()} "}).severity == level
    assert routing.decide({}, severity_hint=word.title()).severity == level


def test_default_map_contents() -> None:
    expected = {
        "SEV-1": "critical crit page emergency fatal highest blocker sev1 sev-1 p1 1",
        "SEV-2": "high error major sev2 sev-2 p2 2",
        "SEV-3": "warning warn medium minor sev3 sev-3 p3 3",
        "SEV-4": "info informational low lowest trivial sev4 sev-4 p4 4 p5 none",
    }
    for level, words in expected.items():
        assert sorted(w for w, v in DEFAULT_SEVERITY_MAP.items() if v == level) == sorted(
            words.split()
        )
    assert len(DEFAULT_SEVERITY_MAP) == sum(len(words.split()) for words in expected.values())


def test_unknown_and_unconfigured_severities_use_the_default() -> None:
    detection = DetectionConfig(default_severity="SEV-2")
    routing = Router([], detection, ["SEV-1", "SEV-2", "SEV-5"])
    assert routing.decide({"severity": "bananas"}).severity == "SEV-2"
    assert routing.decide({"severity": ""}).severity == "SEV-2"
    assert routing.decide({"severity": "info"}).severity == "SEV-2"  # SEV-4 isn't configured
    assert routing.decide({"severity": "SEV-5"}).severity == "SEV-5"  # passes through
    assert routing.decide({"severity": "sev-5"}).severity == "SEV-5"
    assert routing.decide({"severity": "SEV-4"}).severity == "SEV-2"
    assert routing.map_severity(None) is None
    assert routing.map_severity("crit") == "SEV-1"
    assert routing.map_severity("nope") is None


def test_user_map_is_merged_over_the_default() -> None:
    detection = DetectionConfig.model_validate(
        {"severity_map": {" Disaster ": "SEV-1", "WARNING": "SEV-2"}}
    )
    assert detection.severity_map["disaster"] == "SEV-1"
    assert detection.severity_map["warning"] == "SEV-2"
    assert detection.severity_map["critical"] == "SEV-1"
    routing = Router([], detection, SEVERITIES)
    assert routing.decide({"severity": "DISASTER"}).severity == "SEV-1"
    assert routing.decide({"severity": "Warning"}).severity == "SEV-2"
    assert routing.decide({"severity": "info"}).severity == "SEV-4"


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        ({"severity_map": {"bad": "critical"}}, ("severity_map", "bad"), "should match pattern"),
        ({"max_body_bytes": 0}, ("max_body_bytes",), "greater than 0"),
        ({"default_severity": "sev3"}, ("default_severity",), "should match pattern"),
        ({"routes": []}, ("routes",), "Extra inputs"),
    ],
)
def test_detection_validation(data: dict[str, Any], loc: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DetectionConfig.model_validate(data)
    [error] = caught.value.errors()
    assert (tuple(error["loc"]), message in error["msg"]) == (loc, True)


def test_detection_defaults_and_check() -> None:
    detection = DetectionConfig()
    assert detection.max_body_bytes == 1_048_576
    assert detection.default_severity == "SEV-3"
    assert detection.severity_map == DEFAULT_SEVERITY_MAP
    assert detection.severity_map is not DEFAULT_SEVERITY_MAP
    assert check_detection(detection, SEVERITIES) == []
    assert check_detection(detection, ["SEV-1"]) == [
        "default_severity: unknown severity 'SEV-3'; known: SEV-1"
    ]


# --- title templates -----------------------------------------------------------------


def titled(template: str) -> Router:
    """Return a router whose only route is a default route with this title."""
    return router({"default": True, "title": template})


def test_title_renders_labels_annotations_context_and_severity() -> None:
    routing = titled(
        "[{{ severity }}] {{ labels.alertname }} on {{ labels.service }}:"
        " {{ annotations.summary }} ({{ source }})"
    )
    decision = routing.decide(
        {"alertname": "HighCPU", "service": "checkout", "severity": "critical"},
        context={"annotations": {"summary": "CPU > 90%"}, "source": "alertmanager"},
    )
    assert decision.title == "[SEV-1] HighCPU on checkout: CPU > 90% (alertmanager)"


def test_title_missing_labels_render_empty() -> None:
    routing = titled("{{ labels.alertname }} on {{ labels.service }}{{ labels.a.b }}")
    assert routing.decide({"alertname": "HighCPU"}).title == "HighCPU on"
    assert routing.decide({}).title == "on"
    assert titled("{{ labels.nothing }}{{ annotations.x }}").decide({}).title is None


def test_title_is_one_line_and_label_names_beat_dict_methods() -> None:
    assert titled("a\n  b\t{{ labels.x }}").decide({"x": "c\nd"}).title == "a b c d"
    routing = titled('{{ labels.items }}/{{ labels["keys"] }}/{{ labels.get("x", "-") }}')
    assert routing.decide({"items": "I", "keys": "K"}).title == "I/K/-"


def test_title_render_error_falls_back_to_none(caplog: pytest.LogCaptureFixture) -> None:
    routing = router(
        {"match": ['a="1"'], "title": "{{ 1 // labels.zero | int }}"},
        {"match": ['a="2"'], "title": "{{ labels.x.upper() }}{{ ''.__class__.__mro__ }}"},
    )
    with caplog.at_level(logging.WARNING, logger="warroom.detection.routing"):
        assert routing.decide({"a": "1", "zero": "0"}).title is None
    assert "routes.0: title template failed" in caplog.text
    sandboxed = routing.decide({"a": "2", "x": "v"}).title
    assert sandboxed is None or "class" not in sandboxed


def test_title_cannot_change_the_labels() -> None:
    labels = {"x": "v"}
    assert titled('{{ labels.pop("x") }}{% set _ = labels.clear() %}').decide(labels).title is None
    assert labels == {"x": "v"}


def test_title_from_the_chain() -> None:
    routing = router(
        {"match": ['a="1"'], "continue": True, "team": "t"},
        {"match": ['b="1"'], "title": "{{ labels.b }} from route 1"},
    )
    assert routing.decide({"a": "1", "b": "1"}).title == "1 from route 1"
    assert routing.decide({"a": "1"}).title is None


# --- properties ----------------------------------------------------------------------

label_values = st.sampled_from(["checkout", "critical", "sev1", "warning", "P2", "", "x\ny"])
label_sets = st.dictionaries(
    st.sampled_from(["service", "severity", "alertname", "env"]), label_values, max_size=4
)


@given(labels=label_sets, hint=st.none() | st.text(max_size=10))
def test_decide_always_gives_a_configured_severity(
    labels: dict[str, str], hint: str | None
) -> None:
    design = Router(
        [RouteConfig.model_validate(r) for r in yaml.safe_load(DESIGN_EXAMPLE)["routes"]],
        DetectionConfig(),
        SEVERITIES,
    )
    for routing in (design, router()):
        decision = routing.decide(labels, severity_hint=hint)
        assert decision.severity in SEVERITIES
        assert decision.route in (None, 0, 1)


@given(labels=label_sets)
def test_first_match_is_the_lowest_matching_index(labels: dict[str, str]) -> None:
    items = [
        {"match": ['service="checkout"'], "team": "0"},
        {"match": ['severity=~"critical|sev1"'], "team": "1"},
        {"match": ['env!=""'], "team": "2"},
    ]
    routes = routes_of(*items)
    expected = next((i for i, route in enumerate(routes) if route.matches(labels)), None)
    decision = Router(routes, DetectionConfig(), SEVERITIES).decide(labels)
    assert decision.route == expected
    assert decision.team == (None if expected is None else str(expected))
