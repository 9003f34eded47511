"""A group of rows as one multi-row ``INSERT``, compiled once per shape, run as driver SQL.

The group committer's writer inserts a few dozen small rows per transaction. Through
``connection.execute(insert(table), rows)`` SQLAlchemy compiles (from its cache) and runs an
``executemany``: per row its default generators, its bind processors and, on SQLite, one
``sqlite3_step`` that gives up the GIL and must take it back from a busy event loop. Here the
statement ``INSERT … VALUES (…), (…), …`` for a given set of columns and number of rows is
compiled once by SQLAlchemy (the dialect's own SQL: its casts, its quoting, the schema
translate map) and kept; a group then costs one statement: the columns' Python defaults and
bind processors applied by hand, as SQLAlchemy applies them, and ``exec_driver_sql`` (so
errors are SQLAlchemy's, a lost connection is noticed, and events still fire).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from sqlalchemy import Column, Connection, Table, bindparam, insert

from sartiq_storage.adapters.db.engine import Database

MAX_PARAMETERS = 30_000
"""Bound values per statement at most: under SQLite's 32,766 and PostgreSQL's 65,535."""

_Processor: TypeAlias = Callable[[Any], Any] | None
# (row index, column key, bind processor, parameter name)
_Slot: TypeAlias = tuple[int, str, _Processor, str]
_Parameters: TypeAlias = tuple[Any, ...] | dict[str, Any]
_PYFORMAT = re.compile(r"%\((\w+)\)s|%%")


def _generator(arg: Any, is_callable: bool) -> Callable[[], Any]:
    """A column's Python default as a call: SQLAlchemy wraps a callable default to take an
    execution context; ours are context-free, so they get ``None``."""
    if is_callable:
        return lambda: arg(None)
    return lambda: arg


class BulkInsert:
    """Inserts rows into ``table`` a statement per run of rows with the same columns."""

    def __init__(self, db: Database, table: Table, *, max_parameters: int = MAX_PARAMETERS) -> None:
        self.table = table
        self.max_parameters = max_parameters
        engine = db.engine
        self.dialect = engine.dialect
        self.translate = engine.get_execution_options().get("schema_translate_map")
        self._defaults: dict[str, Callable[[], Any]] = {}
        for column in table.columns:
            default = column.default
            if default is None or not (default.is_scalar or default.is_callable):
                continue  # a server default, or none: left to the database
            self._defaults[column.key] = _generator(default.arg, default.is_callable)  # type: ignore[attr-defined]
        self._statements: dict[tuple[tuple[str, ...], int], tuple[str, list[_Slot]]] = {}
        self._numbered: dict[str, tuple[str, list[str]]] = {}

    def execute(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` inside ``connection``'s transaction."""
        for sql, parameters in self.statements(rows):
            connection.exec_driver_sql(sql, parameters)

    def statements(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, _Parameters]]:
        """The statements that insert ``rows`` (one per run of rows with the same columns, and
        of at most :data:`MAX_PARAMETERS` values), each with its driver parameters."""
        statements = []
        start = 0
        while start < len(rows):
            keys = self._keys(rows[start])
            end = start + 1
            limit = start + max(1, self.max_parameters // max(1, len(keys)))
            while end < len(rows) and end < limit and self._keys(rows[end]) == keys:
                end += 1
            statements.append(self._bound(keys, rows[start:end]))
            start = end
        return statements

    def numbered(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Any]]]:
        """:meth:`statements` with ``$1``, ``$2``… placeholders and the values in their order,
        for a cursor that sends a statement as it is (psycopg's ``RawCursor``). A
        ``%(name)s`` statement psycopg parses on each call once it is over 4096 characters or
        50 values (a group of 7 intents): at 32 rows that parse was 60% of the insert's CPU."""
        if self.dialect.positional:
            raise ValueError(f"{self.dialect.paramstyle} statements are numbered by the driver")
        statements = []
        for sql, parameters in self.statements(rows):
            text, order = self._numbered_text(sql)
            assert isinstance(parameters, dict)  # not positional: named parameters
            statements.append((text, [parameters[name] for name in order]))
        return statements

    def _numbered_text(self, sql: str) -> tuple[str, list[str]]:
        known = self._numbered.get(sql)
        if known is None:
            order: list[str] = []

            def number(match: re.Match[str]) -> str:
                if match.group(1) is None:  # an escaped percent sign
                    return "%"
                order.append(match.group(1))
                return f"${len(order)}"

            known = self._numbered[sql] = (_PYFORMAT.sub(number, sql), order)
        return known

    def _keys(self, row: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(sorted({*row, *self._defaults}))

    def _bound(
        self, keys: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
    ) -> tuple[str, _Parameters]:
        sql, slots = self._statement(keys, len(rows))
        filled = [self._filled(row) for row in rows]
        values = [
            processor(filled[i][key]) if processor else filled[i][key]
            for i, key, processor, _ in slots
        ]
        if self.dialect.positional:
            return sql, tuple(values)
        names = [name for _, _, _, name in slots]
        return sql, dict(zip(names, values, strict=True))

    def _filled(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        missing = [key for key in self._defaults if key not in row]
        if not missing:
            return row
        return {**row, **{key: self._defaults[key]() for key in missing}}

    def _statement(self, keys: tuple[str, ...], count: int) -> tuple[str, list[_Slot]]:
        cached = self._statements.get((keys, count))
        if cached is not None:
            return cached
        columns: list[Column[Any]] = [self.table.c[key] for key in keys]
        statement = insert(self.table).values(
            [
                {c.key: bindparam(f"{c.key}_{i}", type_=c.type) for c in columns}
                for i in range(count)
            ]
        )
        options: dict[str, Any] = {}
        if self.translate:
            options = {"schema_translate_map": self.translate, "render_schema_translate": True}
        compiled = statement.compile(dialect=self.dialect, **options)
        processors: dict[str, _Processor] = {
            c.key: c.type.dialect_impl(self.dialect).bind_processor(self.dialect) for c in columns
        }
        slots: list[_Slot]
        if self.dialect.positional:
            order = compiled.positiontup or []
            slots = []
            for name in order:
                key, _, index = name.rpartition("_")
                slots.append((int(index), key, processors[key], name))
        else:
            slots = [
                (i, c.key, processors[c.key], f"{c.key}_{i}") for i in range(count) for c in columns
            ]
        known = (compiled.string, slots)
        self._statements[(keys, count)] = known
        return known
