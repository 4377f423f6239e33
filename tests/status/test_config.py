"""The `status_page:` section: defaults, validation and cross-checks with errors on lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.conftest import REPO
from warroom.config import WarroomConfig, load_config
from warroom.core.errors import ConfigError
from warroom.status.config import StatusPageConfig

YAML = """\
services:
  - {id: checkout}
  - {id: search}
status_page:
  title: Acme status
  public_url: https://status.example.com/
  history_days: 7
  components:
    - id: api
      name: Public API
      group: Platform
      services: [checkout]
    - id: web
      name: Website
      description: www.example.com
      services: [search, nope]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "warroom.yaml"
    path.write_text(text)
    return path


def test_defaults_need_no_section() -> None:
    page = WarroomConfig().status_page
    assert (page.title, page.components, page.public_url, page.history_days) == (
        "Status",
        [],
        None,
        14,
    )


def test_unknown_service_is_named_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, YAML)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}:16: status_page.components.1.services.1: unknown service 'nope'"
    ]


def test_valid_section_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, YAML.replace(", nope]", "]")))
    page = config.status_page
    assert page.title == "Acme status"
    assert page.public_url == "https://status.example.com"  # one canonical form for links
    assert page.history_days == 7
    assert [c.id for c in page.components] == ["api", "web"]
    assert page.components_of("checkout") == ["api"]
    assert page.components_of("other") == [] and page.components_of(None) == []


def test_without_services_any_service_name_is_accepted(tmp_path: Path) -> None:
    text = "status_page:\n  components:\n    - {id: api, name: API, services: [anything]}\n"
    assert load_config(write(tmp_path, text)).status_page.components[0].services == ["anything"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"components": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]}, "defined twice"),
        ({"components": [{"id": "Bad Id", "name": "A"}]}, "should match pattern"),
        ({"components": [{"id": "a"}]}, "Field required"),
        ({"components": [{"id": "a", "name": "A", "colour": "red"}]}, "Extra inputs"),
        ({"history_days": -1}, "greater than or equal to 0"),
        ({"public_url": "status.example.com"}, "should match pattern"),
        ({"title": ""}, "at least 1 character"),
        ({"theme": "dark"}, "Extra inputs"),
    ],
)
def test_bad_values_are_refused(section: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StatusPageConfig.model_validate(section)


def test_error_names_the_field_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "status_page:\n  history_days: lots\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems[0].startswith(f"{path}:2: status_page.history_days: ")


def test_example_configuration_has_a_status_page(monkeypatch: pytest.MonkeyPatch) -> None:
    example = REPO / "examples" / "warroom.yaml"
    # Its secrets; a few have a checked form (Slack bot token, PagerDuty key, webhook secret).
    valid = {"SLACK_BOT_TOKEN": "xoxb-x", "PAGERDUTY_ROUTING_KEY": "R" * 32}
    for name in re.findall(r"env:([A-Z0-9_]+)", example.read_text()):
        monkeypatch.setenv(name, valid.get(name, "x" * 16))
    config = load_config(example)
    page = config.status_page
    assert page.components, "examples/warroom.yaml should show status_page components"
    known = {s.id for s in config.services}
    assert all(set(c.services) <= known for c in page.components)
