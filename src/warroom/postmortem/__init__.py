"""The postmortem: root cause (5 Whys, fishbone), timeline, lessons and action items.

The vocabularies live here, with no heavy imports, so the CLI can check options cheaply.
"""

from __future__ import annotations

STATUSES = ("draft", "in_review", "done")
ITEM_KINDS = ("short_term", "long_term")
ITEM_STATUSES = ("open", "done", "wontfix")
WHYS_MAX = 10
