"""Benchmarks, each run side by side with stock pulp_container: ``python -m bench.<name>``.

``python -m bench`` (``make bench``) runs them all; results go to ``bench/results/<name>.json``.
"""
