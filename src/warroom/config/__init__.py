"""warroom.yaml: the organisation's configuration, its loading and its checks.

Phases import `WarroomConfig` for typing only (under TYPE_CHECKING): this package composes
every phase's section, so a runtime import from a phase would be a circle.
"""

from warroom.config.checks import config_warnings
from warroom.config.loading import load_config
from warroom.config.model import WarroomConfig

__all__ = ["WarroomConfig", "config_warnings", "load_config"]
