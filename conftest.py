"""Shared pytest set-up: the repository root on sys.path (for `tests` and `example`)."""
