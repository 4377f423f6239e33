"""Benchmarks for warroom (`make bench`); results are written to docs/benchmarks.md."""
