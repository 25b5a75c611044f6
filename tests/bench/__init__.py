"""Benchmarks: ``python -m tests.bench [--quick]`` (``make bench``); not collected by ``make test``."""
