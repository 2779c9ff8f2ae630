"""A database backend built on SQLite's, as SpatiaLite is (tests/test_sync.py)."""
