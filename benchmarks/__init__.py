"""Benchmarks: ``python -m benchmarks [--quick]`` (``make bench``); not collected by ``make test``."""
