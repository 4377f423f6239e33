"""Fixtures of the security tests."""

from tests.security.leak_vendors import vendors

__all__ = ["vendors"]
