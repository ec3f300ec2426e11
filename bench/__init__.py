"""Benchmarks: each module prints numbers and asserts nothing; run as `python -m bench.NAME`."""
