"""The schema has one source of truth: the SQLModel tables (assistant/index/tables.py). The migrations
(assistant/index/migrations.py) are how an index on disk gets there, one released step after another, and the
store's SQL takes its column names from the tables (assistant/index/sql.py).

These tests build a fresh index by running the migrations and compare what they built with what the tables
declare: tables, columns (kind, nullability, primary key), indexes (columns, uniqueness, partial or not), unique
constraints and foreign keys (with what a delete does). They run on SQLite and again on PostgreSQL, like every
index test (tests/conftest.py). What the migrations build on purpose that the tables do not declare (each
dialect's full-text search, the migrations' own bookkeeping) is named below; anything else that differs fails
with a line that says what.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Engine, TypeDecorator, UniqueConstraint, create_engine, inspect
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeEngine
from sqlmodel import SQLModel

from assistant.index import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from assistant.index.migrations import MIGRATIONS
from assistant.index.postgres import PostgresConnection, connect
from assistant.index.store import IndexStore

# Built by the migrations and not declared by the tables: their record of themselves, and full-text search,
# which is SQLite's FTS5 (a virtual table and its shadow tables) or PostgreSQL's tsvector column and GIN index
# (migrations.m002).
NOT_DECLARED_TABLES = {
    "sqlite": {"_migrations", "turns_fts", "turns_fts_config", "turns_fts_data", "turns_fts_docsize", "turns_fts_idx"},
    "postgresql": {"_migrations"},
}
NOT_DECLARED_COLUMNS = {"sqlite": set(), "postgresql": {("turns", "search_vector")}}
NOT_DECLARED_INDEXES = {"sqlite": set(), "postgresql": {("turns", "ix_turns_search_vector")}}


@dataclass(frozen=True)
class Column:
    kind: str  # the Python type it holds; on PostgreSQL, qualified when stored other than the migrations promise
    nullable: bool
    primary_key: bool


@dataclass(frozen=True)
class IndexShape:
    columns: tuple[str, ...]
    unique: bool
    partial: bool


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    table: str
    referred: tuple[str, ...]
    on_delete: str | None


@dataclass
class Table:
    columns: dict[str, Column]
    indexes: dict[str, IndexShape]
    unique: set[tuple[str, ...]]
    foreign_keys: set[ForeignKey]


Schema = dict[str, Table]


def python_type(sql_type: TypeEngine[Any]) -> type:
    if isinstance(sql_type, TypeDecorator):  # SQLModel's AutoString and UTCDateTime
        sql_type = sql_type.impl_instance
    return sql_type.python_type


def declared(dialect: str) -> Schema:
    """The schema the SQLModel tables declare."""
    return {
        name: Table(
            columns={
                column.name: Column(python_type(column.type).__name__, bool(column.nullable), column.primary_key)
                for column in table.columns
            },
            indexes={
                str(index.name): IndexShape(
                    tuple(column.name for column in index.columns),
                    bool(index.unique),
                    index.dialect_options[dialect].get("where") is not None,
                )
                for index in table.indexes
            },
            unique={
                tuple(column.name for column in constraint.columns)
                for constraint in table.constraints
                if isinstance(constraint, UniqueConstraint)
            },
            foreign_keys={
                ForeignKey(
                    tuple(constraint.column_keys),
                    constraint.referred_table.name,
                    tuple(element.column.name for element in constraint.elements),
                    constraint.ondelete.upper() if constraint.ondelete else None,
                )
                for constraint in table.foreign_key_constraints
            },
        )
        for name, table in SQLModel.metadata.tables.items()
    }


def built(engine: Engine) -> Schema:
    """The schema the migrations built in the database behind `engine`, read back from the database itself."""
    dialect = engine.dialect.name
    inspector = inspect(engine)
    schema = {}
    for name in inspector.get_table_names():
        if name in NOT_DECLARED_TABLES[dialect]:
            continue
        primary_key = set(inspector.get_pk_constraint(name)["constrained_columns"])
        schema[name] = Table(
            columns={
                column["name"]: Column(
                    _stored_kind(column["type"], dialect), column["nullable"], column["name"] in primary_key
                )
                for column in inspector.get_columns(name)
                if (name, column["name"]) not in NOT_DECLARED_COLUMNS[dialect]
            },
            indexes={
                str(index["name"]): IndexShape(
                    tuple(str(column) for column in index["column_names"]),
                    bool(index["unique"]),
                    index.get("dialect_options", {}).get(f"{dialect}_where") is not None,
                )
                for index in inspector.get_indexes(name)
                if (name, index["name"]) not in NOT_DECLARED_INDEXES[dialect]
                and "duplicates_constraint" not in index  # PostgreSQL's index behind a UNIQUE constraint
            },
            unique={tuple(constraint["column_names"]) for constraint in inspector.get_unique_constraints(name)},
            foreign_keys=_foreign_keys(engine, inspector, name),
        )
    return schema


def _stored_kind(sql_type: TypeEngine[Any], dialect: str) -> str:
    """A built column's Python type; on PostgreSQL the migrations store every integer as BIGINT and every time as
    TIMESTAMPTZ (migrations.postgres_ddl), and a column stored otherwise says so."""
    kind = python_type(sql_type)
    if dialect == "postgresql" and kind is int and not isinstance(sql_type, BigInteger):
        return "int (not BIGINT)"
    if dialect == "postgresql" and kind is datetime and not getattr(sql_type, "timezone", False):
        return "datetime (not TIMESTAMPTZ)"
    return kind.__name__


def _foreign_keys(engine: Engine, inspector: Any, table: str) -> set[ForeignKey]:
    if engine.dialect.name == "sqlite":
        # SQLAlchemy's reflection does not read ON DELETE out of these tables' DDL; SQLite's own pragma does.
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(f"PRAGMA foreign_key_list({table})").mappings().all()
        grouped: dict[int, list[Any]] = {}
        for row in rows:
            grouped.setdefault(row["id"], []).append(row)
        return {
            ForeignKey(
                tuple(row["from"] for row in group),
                group[0]["table"],
                tuple(row["to"] for row in group),
                None if group[0]["on_delete"] == "NO ACTION" else group[0]["on_delete"],
            )
            for group in grouped.values()
        }
    return {
        ForeignKey(
            tuple(key["constrained_columns"]),
            key["referred_table"],
            tuple(key["referred_columns"]),
            (key["options"].get("ondelete") or "").upper() or None,
        )
        for key in inspector.get_foreign_keys(table)
    }


def differences(built: Schema, declared: Schema) -> list[str]:
    """What the migrations built that the tables do not declare, and the other way round, one line each."""
    lines = [f"table {name}: declared by the tables, not built" for name in declared.keys() - built.keys()]
    lines += [f"table {name}: built, not declared by the tables" for name in built.keys() - declared.keys()]
    for name in sorted(declared.keys() & built.keys()):
        found, wanted = built[name], declared[name]
        for part in ("columns", "indexes"):
            have, want = getattr(found, part), getattr(wanted, part)
            lines += [
                f"{name}.{key}: {want[key]} declared by the tables, not built" for key in want.keys() - have.keys()
            ]
            lines += [
                f"{name}.{key}: {have[key]} built, not declared by the tables" for key in have.keys() - want.keys()
            ]
            lines += [
                f"{name}.{key}: {have[key]} built, {want[key]} declared"
                for key in sorted(want.keys() & have.keys())
                if have[key] != want[key]
            ]
        for part in ("unique", "foreign_keys"):
            have, want = getattr(found, part), getattr(wanted, part)
            lines += [f"{name}: {part} {each} declared by the tables, not built" for each in want - have]
            lines += [f"{name}: {part} {each} built, not declared by the tables" for each in have - want]
    return sorted(lines)


@contextmanager
def migrated(tmp_path: Path) -> Iterator[Engine]:
    """A fresh index built by the migrations (a SQLite file, or on the `[postgresql]` run a fresh PostgreSQL
    schema: tests/conftest.py), and an engine on it."""
    store = IndexStore(tmp_path / "index.db")
    store.close()
    if isinstance(store.connection, PostgresConnection):
        url = store.connection.url
        engine = create_engine(
            "postgresql+psycopg://", creator=lambda: connect(url, autocommit=False), poolclass=NullPool
        )
    else:
        engine = create_engine(f"sqlite:///{tmp_path / 'index.db'}", poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def test_the_migrations_build_the_schema_the_tables_declare(tmp_path: Path) -> None:
    with migrated(tmp_path) as engine:
        assert differences(built(engine), declared(engine.dialect.name)) == []
        with engine.connect() as connection:
            applied = [row[0] for row in connection.exec_driver_sql("SELECT name FROM _migrations ORDER BY name")]
    assert applied == sorted(name for name, _ in MIGRATIONS)  # each once, none unknown


def test_a_column_the_migrations_lack_is_caught(tmp_path: Path) -> None:
    """As if a column had been added to ThreadRow without a migration that adds it (the comparison can fail)."""
    with migrated(tmp_path) as engine:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE threads DROP COLUMN lease_owner")
        assert differences(built(engine), declared(engine.dialect.name)) == [
            "threads.lease_owner: Column(kind='str', nullable=True, primary_key=False) declared by the tables, "
            "not built"
        ]
