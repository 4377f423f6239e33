"""warroom: incident response that runs the team's own runbook."""

__version__ = "0.1.0"
