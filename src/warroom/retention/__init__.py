"""Data retention: rows that stopped mattering are deleted in small batches (docs/operations.md)."""
