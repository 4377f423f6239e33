"""Mitigation: the runbook's containment, remediation and verification phase.

Automated actions (`actions.py` config, `runner.py` execution, `action_service.py` and
`action_flows.py` checks and timeline) run named commands or HTTP calls for responders.
"""
