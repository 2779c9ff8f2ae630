"""Benchmark scripts for djira (run them as scripts: ``python bench/requests.py``)."""
