"""Quoting values and names into DuckDB / PostgreSQL SQL text: the one place it is done.

Most statements take their values as bound parameters. Some cannot: a file path in
``read_parquet(...)``, ``COPY ... TO``, ``ATTACH``, a time-zone setting, a column name that comes
from a vendor's header or the raw-zone contract. Those are pasted into the SQL text, and always
through these two functions: settings, file names and headers are never pasted unquoted, so a
quote in a path or a header cannot end the literal or the name early and change the statement.
"""

from __future__ import annotations


def literal(value: object) -> str:
    """``value`` as a SQL string literal: ``str(value)`` in single quotes, embedded quotes doubled.

    For settings and file names pasted into SQL (paths in ``read_parquet``/``COPY``/``ATTACH``,
    ``SET TimeZone``), which must stay one string whatever characters they hold.
    """
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: object) -> str:
    """``name`` as a quoted SQL identifier: in double quotes, embedded double quotes doubled.

    For column, table, schema and database names pasted into SQL (vendor headers, contract
    columns, snapshot file stems), which must stay one name whatever characters they hold.
    """
    return '"' + str(name).replace('"', '""') + '"'
