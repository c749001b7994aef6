"""SQL text built from the SQLModel tables (tables.py), so that a column is named in one place.

The store's reads and writes are plain SQL with `:name` parameters (database.py says why not the ORM). Column
lists, and which columns read back as datetimes and booleans, come from the tables, never from input; the
tables are the schema's one source of truth, and tests/test_schema.py holds the migrations equal to them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Boolean, DateTime, TypeDecorator
from sqlalchemy.types import TypeEngine
from sqlmodel import SQLModel

from assistant.index import tables  # noqa: F401  (its classes register the tables on SQLModel.metadata)

COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(table.columns.keys()) for name, table in SQLModel.metadata.tables.items()
}


# Columns stored as text or integers in SQLite that read back as datetimes and booleans (database.py).
def _columns_of_type(kind: type[TypeEngine[Any]]) -> frozenset[str]:
    return frozenset(
        column.name
        for table in SQLModel.metadata.tables.values()
        for column in table.columns
        # SQLModel's datetimes are a TypeDecorator (UTCDateTime) over DateTime.
        if isinstance(column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type, kind)
    )


DATETIME_COLUMNS = _columns_of_type(DateTime)
BOOLEAN_COLUMNS = _columns_of_type(Boolean)


@cache
def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(f':{column}' for column in columns)})"


@cache
def update_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"UPDATE {table} SET {', '.join(f'{column} = :{column}' for column in columns)} WHERE id = :id"


def select_sql(table: str, rest: str) -> str:
    """Every column of `table`, then `rest` (joins, WHERE, ORDER BY)."""
    return f"SELECT {', '.join(f'{table}.{column}' for column in COLUMNS[table])} FROM {table} {rest}"
