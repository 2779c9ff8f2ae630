"""SQLite's backend under another name: djira.sync must count it as SQLite."""

from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper


class DatabaseWrapper(SQLiteWrapper):
    pass
