"""Benchmarks against the tools users would pick instead (issue 9); see bench/README.md."""
