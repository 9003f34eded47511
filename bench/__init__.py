"""Benchmarks: each ``bench/bench_*.py`` module measures ours against a plain baseline.

Run them with ``./run bench`` (``python -m bench``); that rewrites ``docs/benchmarks.md``.
"""
