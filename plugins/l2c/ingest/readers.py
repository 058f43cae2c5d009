"""Read: one decoded export file -> a typed DuckDB table, with every row's physical line.

Reading takes two calls because mapping the headers sits between them: :func:`read_header` gives the
file's headers (for :mod:`l2c.ingest.mapping`), then :func:`read_rows` reads the rows and types them
with the :class:`~l2c.ingest.normalize.TypingPlan` made from that mapping. The plan is data handed
to :func:`~l2c.ingest.normalize.typing_select`, not a call back into the loader: for CSV, reading and
typing are one DuckDB pass, and storing the rows as text first would add a second pass over them.

Every reader types the same shape, so typing is one code path for all formats: VARCHAR columns
``c0 .. c{n-1}`` (:func:`~l2c.ingest.normalize.col_name`, positional to the file's headers) in file
order, an SQL expression giving each row's physical line, and the records that could not become a
row at all (short/long CSV rows, invalid or undecodable JSON lines) with their reason and raw text.

- CSV: DuckDB's parallel reader (``store_rejects`` catches short and long rows) plus a numpy scan of
  record starts (:mod:`l2c.ingest.csvscan`) for line numbers. When the two disagree (a malformed
  file, e.g. mixed line endings) Python's ``csv`` module reads the file instead.
- JSONL: the lines go to DuckDB as one string column; its JSON functions validate and extract them.
- XLSX: python-calamine reads the first sheet; Excel serial numbers in date columns become dates.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import json
import logging
import math
import uuid
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from l2c.errors import L2CInputError
from l2c.ingest.csvscan import SPECIAL_WHITESPACE, Records, record_bytes, scan_records
from l2c.ingest.encoding import Decoded
from l2c.ingest.landing import ExportFile
from l2c.ingest.normalize import TypingPlan, col_name, trailing_fixup_sql, typing_select, unique_headers
from l2c.sql import literal

log = logging.getLogger(__name__)

_DELIMITERS = (",", "\t", ";", "|")
#: whitespace tested at the start of every CSV value (tabs and line breaks only when the file has
#: them); at the end only the space is, the rest is fixed up when the record scan finds it at all
CSV_WHITESPACE = (" ", *SPECIAL_WHITESPACE)
_REJECT_REASONS = {
    "MISSING COLUMNS": "short_row",
    "TOO MANY COLUMNS": "long_row",
    "INVALID ENCODING": "bad_encoding",
    "INVALID UNICODE": "bad_encoding",
}


@dataclass
class Rejected:
    """A record that could not be split into the file's columns; it goes to quarantine as is."""

    line: int
    reason: str
    detail: str
    raw_record: str


@dataclass
class SourceTable:
    """What a reader produced: the typed table, each row's line, and the records that are no rows."""

    file: ExportFile
    table: str  #: the typed table (see :func:`l2c.ingest.normalize.typing_select`)
    headers: list[str]
    line_sql: str  #: SQL over alias ``s`` (the typed table, and ``l`` with join_sql) giving the line
    join_sql: str = ""  #: extra FROM clause needed by line_sql
    rejected: list[Rejected] = field(default_factory=list)
    rows: int = 0  #: rows in ``table``
    encoding: str | None = None
    bytes: int = 0
    sha256: str = ""
    extra_tables: list[str] = field(default_factory=list)
    #: DuckDB met bytes that are not UTF-8 (rows quarantined as ``bad_encoding``); in a file decoded
    #: on a tentative UTF-8 guess, :func:`l2c.ingest.encoding.recheck` tells whether it is legacy
    invalid_utf8: bool = False

    @property
    def rows_in(self) -> int:
        return self.rows + len(self.rejected)


@dataclass(frozen=True)
class Header:
    """A file's headers, for the mapping step, and where :func:`read_rows` goes on from.

    JSONL and XLSX name their columns only once every line (the whole sheet) is read, so their rows
    are read here already; for CSV only the header record is.
    """

    decoded: Decoded
    headers: list[str]
    #: the reader's own state for :func:`read_rows`; None: no header and no rows (an empty file)
    rest: _CsvLayout | _JsonLines | _Sheet | None = None
    sha256: str = ""  #: the file's checksum, when reading the header already took all its bytes


def read_header(con: duckdb.DuckDBPyConnection, decoded: Decoded) -> Header:
    """The headers of a decoded file (raises :class:`L2CInputError` for an unreadable workbook)."""
    fmt = decoded.file.format
    if fmt == "csv":
        return _csv_header(decoded)
    if fmt == "jsonl":
        return _jsonl_header(con, decoded)
    return _xlsx_header(decoded)


def read_rows(
    con: duckdb.DuckDBPyConnection,
    header: Header,
    plan: TypingPlan,
    table: str,
    date_columns: Collection[int] = (),
) -> SourceTable:
    """Read the rows of ``header``'s file and type them into ``table`` with ``plan``.

    ``plan`` reads the file's columns by position (:func:`~l2c.ingest.normalize.col_name`); the CSV
    reader narrows its trimming to the whitespace the file can contain. ``date_columns``: positions
    of the date and timestamp columns, where an XLSX number is a date (only the mapping knows them).
    """
    rest = header.rest
    if rest is None:
        return _no_rows(con, header, plan, table)
    if isinstance(rest, _CsvLayout):
        return _csv_rows(con, header, rest, plan, table)
    if isinstance(rest, _JsonLines):
        return _jsonl_rows(con, header, rest, plan, table)
    return _xlsx_rows(con, header, rest, plan, table, date_columns)


def _type(
    con: duckdb.DuckDBPyConnection,
    plan: TypingPlan,
    table: str,
    rows_sql: str,
    headers: list[str],
    has_line: bool,
) -> None:
    """Create ``table``: the rows of ``rows_sql`` (VARCHAR ``c0..``, ``_line`` if has_line) typed."""
    con.execute(f"CREATE OR REPLACE TABLE {table} AS {typing_select(plan, rows_sql, headers, has_line)}")


def _type_arrow(
    con: duckdb.DuckDBPyConnection, plan: TypingPlan, table: str, data: pa.Table, headers: list[str]
) -> None:
    view = f"arrow_{_uid()}"
    con.register(view, data)
    try:
        _type(con, plan, table, view, headers, True)
    finally:
        con.unregister(view)


def _no_rows(con: duckdb.DuckDBPyConnection, header: Header, plan: TypingPlan, table: str) -> SourceTable:
    """An empty file (or only blank lines): no header, no rows, an empty typed table all the same."""
    file = header.decoded.file
    _type(con, plan, table, "(SELECT CAST(NULL AS BIGINT) AS _line LIMIT 0)", [], True)
    return SourceTable(
        file,
        table,
        [],
        "s._line",
        encoding=header.decoded.encoding,
        bytes=file.path.stat().st_size,
        sha256=header.sha256 or _sha256(file.path),
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def _uid() -> str:
    return uuid.uuid4().hex[:10]


# -- CSV ------------------------------------------------------------------------------------------


def _read_header(path: Path) -> tuple[list[str], str, int] | None:
    """(headers, delimiter, blank lines before the header) from the start of a UTF-8 CSV file.

    None when the file has no header at all (empty, or only blank lines).
    """
    size = path.stat().st_size
    want = 1 << 16
    while True:
        with open(path, "rb") as fh:
            head = fh.read(want)
        complete = len(head) >= size
        text = head.decode("utf-8", "replace")
        text = text.removeprefix("\ufeff")
        stripped = text.lstrip("\r\n")
        skip = text[: len(text) - len(stripped)].count("\n")
        if not stripped:
            if complete:
                return None
            want *= 4
            continue
        first = stripped.splitlines()[0]
        delim = max(_DELIMITERS, key=first.count)
        if first.count(delim) == 0:
            delim = ","
        reader = csv.reader(io.StringIO(stripped, newline=""), delimiter=delim, quotechar='"')
        row = next(reader, [])
        if complete or reader.line_num < stripped.count("\n"):  # the header record ended in the buffer
            return [h.replace("\ufeff", "") for h in row], delim, skip
        want *= 4


def _quick_flags(path: Path) -> tuple[bool, bool]:
    """(has a tab, has a quote character): two memchr passes, a few ms per 100 MB."""
    tab = quote = False
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            tab = tab or chunk.find(b"\t") != -1
            quote = quote or chunk.find(b'"') != -1
            if tab and quote:
                break
    return tab, quote


def _split(raw: str, delim: str) -> list[str]:
    return next(csv.reader(io.StringIO(raw), delimiter=delim, quotechar='"'), [])


def _strip_newline(text: str) -> str:
    return (
        text[:-2] if text.endswith("\r\n") else text.rstrip("\n\r") if text.endswith(("\n", "\r")) else text
    )


def _short_row_record(headers: Sequence[str], fields: Sequence[str]) -> str:
    keys = unique_headers(headers)
    return json.dumps({k: v for k, v in zip(keys, fields)}, ensure_ascii=False)


@dataclass(frozen=True)
class _CsvLayout:
    delim: str
    skip: int  #: blank lines before the header


def _csv_header(decoded: Decoded) -> Header:
    found = _read_header(decoded.path)
    if found is None:
        log.warning("%s: empty file, no header and no rows", decoded.file.path)
        return Header(decoded, [])
    headers, delim, skip = found
    return Header(decoded, headers, _CsvLayout(delim, skip))


def _csv_rows(
    con: duckdb.DuckDBPyConnection, header: Header, layout: _CsvLayout, plan: TypingPlan, table: str
) -> SourceTable:
    """Read and type one CSV file into ``table`` in a single DuckDB pass.

    DuckDB's row order is file order, so ``rowid`` of the typed table is the n-th good record, and
    the record scan turns that into a physical line.
    """
    decoded = header.decoded
    path, read_path = decoded.file.path, decoded.path
    headers, delim, skip = header.headers, layout.delim, layout.skip
    n = len(headers)
    hasher = hashlib.sha256() if read_path == path else None
    src = SourceTable(decoded.file, table, headers, "", encoding=decoded.encoding, bytes=path.stat().st_size)
    has_tab, has_quote = _quick_flags(read_path)
    # The record scan (and checksum) runs on a second thread while DuckDB reads: numpy and
    # hashlib release the GIL, and DuckDB's scan leaves a core idle now and then.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="l2c-scan") as pool:
        scan = pool.submit(scan_records, read_path, hasher=hasher)
        if n < 2:
            records = scan.result()
            src.sha256 = hasher.hexdigest() if hasher is not None else _sha256(path)
            log.info("%s: one column; reading with Python's csv module", path)
            return _read_csv_python(con, src, read_path, delim, plan)
        rejects_table, rejects_scan = f"rej_{_uid()}", f"rejscan_{_uid()}"
        columns = "{" + ", ".join(f"{literal(col_name(i))}: 'VARCHAR'" for i in range(n)) + "}"
        reader = (
            f"read_csv({literal(str(read_path))}, auto_detect=false, columns={columns}, header=true, "
            f"skip={skip}, delim={literal(delim)}, quote='\"', escape='\"', ignore_errors=true, "
            f"store_rejects=true, rejects_table={literal(rejects_table)}, rejects_scan={literal(rejects_scan)}, "
            "max_line_size=16777216)"
        )
        extra = (("\t",) if has_tab else ()) + (("\r", "\n") if has_quote else ())
        narrow = replace(plan, whitespace=CSV_WHITESPACE + extra, trailing=(" ", *extra))
        try:
            _type(con, narrow, table, reader, headers, False)
            failed = None
        except duckdb.InvalidInputException as exc:  # the CSV parser gave up on the file
            failed = exc
        records = scan.result()
    src.sha256 = hasher.hexdigest() if hasher is not None else _sha256(path)
    nonblank = np.flatnonzero(~records.blank)
    if failed is not None or records.newline != b"\n" or not len(nonblank) or nonblank[0] != skip:
        why = f"DuckDB cannot parse it ({failed})" if failed is not None else "unusual line ends"
        log.warning("%s: %s; reading with Python's csv module", path, why)
        con.execute(
            f"DROP TABLE IF EXISTS {table}; DROP TABLE IF EXISTS {rejects_table}; DROP TABLE IF EXISTS {rejects_scan}"
        )
        return _read_csv_python(con, src, read_path, delim, plan)
    data_idx = nonblank[1:]
    rej = con.execute(
        f"SELECT line_byte_position, error_type, error_message FROM {rejects_table} "
        "ORDER BY line_byte_position"
    ).fetchall()
    con.execute(f"DROP TABLE IF EXISTS {rejects_table}; DROP TABLE IF EXISTS {rejects_scan}")
    # Invalid UTF-8: a few corrupt rows (quarantined), or, if the file was decoded on a tentative
    # guess, perhaps a legacy file whose first non-ASCII byte comes late: the loader asks.
    src.invalid_utf8 = any(_REJECT_REASONS.get(r[1]) == "bad_encoding" for r in rej)
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    rej_idx = records.locate([r[0] for r in rej]) if rej else np.empty(0, dtype=np.int64)
    first_error: dict[int, tuple[str, str]] = {}
    for idx, (_, etype, message) in zip(rej_idx.tolist(), rej):
        first_error.setdefault(idx, (etype, message))
    bad = np.fromiter(first_error, dtype=np.int64, count=len(first_error))
    good = data_idx[~np.isin(data_idx, bad)]
    if len(good) != rows or len(good) + len(bad) != len(data_idx):
        log.warning(
            "%s: record scan (%d rows) disagrees with DuckDB (%d rows); reading with Python's csv module",
            path,
            len(good),
            rows,
        )
        con.execute(f"DROP TABLE IF EXISTS {table}")
        return _read_csv_python(con, src, read_path, delim, plan)
    src.rows = rows
    stored = [f"t_{c}" for c in plan.present if plan.cleaned(c)]
    if records.special and stored:  # trailing characters the narrowed trimming did not test for
        con.execute(trailing_fixup_sql(table, stored, tuple(sorted(records.special))))
    src.rejected = _csv_rejects(read_path, records, first_error, headers, delim)
    _line_mapping(con, src, records.lines[good])
    return src


def _csv_rejects(
    path: Path, records: Records, errors: dict[int, tuple[str, str]], headers: list[str], delim: str
) -> list[Rejected]:
    out = []
    n = len(headers)
    for idx in sorted(errors):
        etype, message = errors[idx]
        raw = _strip_newline(
            record_bytes(path, records.starts[idx], records.ends[idx]).decode("utf-8", "replace")
        )
        reason = _REJECT_REASONS.get(etype, "malformed_row")
        line = int(records.lines[idx])
        if reason in ("short_row", "long_row"):
            fields = _split(raw, delim)
            kind = "fewer" if reason == "short_row" else "more"
            detail = f"row has {len(fields)} fields, {kind} than the header's {n}: {raw[:200]!r}"
            record = _short_row_record(headers, fields) if reason == "short_row" else raw
        else:
            detail = f"{etype.lower()}: {message}; raw: {raw[:200]!r}"
            record = raw
        out.append(Rejected(line, reason, detail, record))
    return out


#: up to this many offset changes the line is a CASE expression, beyond it a join on rowid
_MAX_CASE_BREAKS = 32


def _line_mapping(con: duckdb.DuckDBPyConnection, src: SourceTable, lines: np.ndarray) -> None:
    """Express typed row -> physical line in SQL over the typed table's ``rowid``.

    Usually ``rowid + 2``. Records spanning lines, blank lines and rejected records shift the
    offset: a few shifts become a CASE expression, many a hash join with the line of every row
    (cheaper than an ASOF join, which sorts).
    """
    if len(lines) == 0:
        src.line_sql = "CAST(NULL AS BIGINT)"
        return
    offset = lines - np.arange(len(lines), dtype=np.int64)
    change = np.flatnonzero(np.diff(offset)) + 1
    if len(change) == 0:
        src.line_sql = f"(s.rowid + {int(offset[0])})"
        return
    if len(change) <= _MAX_CASE_BREAKS:
        starts = np.concatenate(([0], change))
        whens = " ".join(f"WHEN s.rowid >= {int(k)} THEN {int(offset[k])}" for k in starts[::-1])
        src.line_sql = f"(s.rowid + CASE {whens} END)"
        return
    name = f"{src.table}_lines"
    _arrow_to_table(con, name, pa.table({"k": np.arange(len(lines), dtype=np.int64), "line": lines}))
    src.line_sql = "l.line"
    src.join_sql = f"JOIN {name} l ON l.k = s.rowid"
    src.extra_tables.append(name)


def _read_csv_python(
    con: duckdb.DuckDBPyConnection, src: SourceTable, path: Path, delim: str, plan: TypingPlan
) -> SourceTable:
    """Exact but slower: Python's csv module, line numbers from ``reader.line_num``."""
    n = len(src.headers)
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        physical = fh.read().splitlines(keepends=True)
    reader = csv.reader(iter(physical), delimiter=delim, quotechar='"')
    values: list[list[str | None]] = [[] for _ in range(n)]
    lines: list[int] = []
    rejected: list[Rejected] = []
    prev = 0
    header_seen = False
    for fields in reader:
        start, prev = prev + 1, reader.line_num
        if not fields or (n > 1 and fields == [""]):
            continue  # blank line
        if not header_seen:
            header_seen = True
            continue
        if len(fields) != n:
            raw = _strip_newline("".join(physical[start - 1 : prev]))
            reason = "short_row" if len(fields) < n else "long_row"
            kind = "fewer" if reason == "short_row" else "more"
            rejected.append(
                Rejected(
                    start,
                    reason,
                    f"row has {len(fields)} fields, {kind} than the header's {n}: {raw[:200]!r}",
                    _short_row_record(src.headers, fields) if reason == "short_row" else raw,
                )
            )
            continue
        for i, v in enumerate(fields):
            values[i].append(v if v != "" else None)
        lines.append(start)
    arrays = {col_name(i): pa.array(values[i], pa.string()) for i in range(n)}
    arrays["_line"] = pa.array(lines, pa.int64())
    _type_arrow(con, plan, src.table, pa.table(arrays), src.headers)
    src.rows = len(lines)
    src.rejected = rejected
    src.line_sql = "s._line"
    return src


def _arrow_to_table(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    view = f"{table}_arrow_{_uid()}"
    con.register(view, data)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)


# -- JSON Lines ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _JsonLines:
    raw_table: str  #: DuckDB table (_line, text, ok) of the file's non-blank lines
    rejected: list[Rejected]  #: the lines that are not valid UTF-8


def _jsonl_header(con: duckdb.DuckDBPyConnection, decoded: Decoded) -> Header:
    """Every non-blank line into DuckDB; the headers are the objects' keys, in first-seen order."""
    file = decoded.file
    data = decoded.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest() if decoded.path == file.path else _sha256(file.path)
    data = data.removeprefix(codecs.BOM_UTF8)
    rejected: list[Rejected] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # no codec decodes all of it (encoding.decode): quarantine the broken lines
        parts = []
        for i, raw in enumerate(data.split(b"\n"), start=1):
            try:
                parts.append(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                bad = raw.decode("utf-8", "replace").rstrip("\r")
                rejected.append(Rejected(i, "bad_encoding", f"not valid UTF-8 ({exc.reason})", bad))
                parts.append("")
        text = "\n".join(parts)
    physical = text.split("\n")
    keep = [i for i, s in enumerate(physical) if s.strip()]
    lines = pa.array([i + 1 for i in keep], pa.int64())
    texts = pa.array([physical[i] for i in keep], pa.string())
    del physical, text
    raw_table = f"json_{_uid()}"
    view = f"{raw_table}_arrow"
    con.register(view, pa.table({"_line": lines, "text": texts}))
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {raw_table} AS SELECT _line, text, "
            f"CASE WHEN json_valid(text) THEN json_type(text) = 'OBJECT' ELSE false END AS ok FROM {view}"
        )
    finally:
        con.unregister(view)
    # keys of valid objects only: a file without one has no header to check, only rejects
    keys = [
        r[0]
        for r in con.execute(
            f"SELECT k FROM (SELECT _line, unnest(json_keys(text)) AS k, "
            f"generate_subscripts(json_keys(text), 1) AS pos FROM {raw_table} WHERE ok) "
            "GROUP BY k ORDER BY min(_line), min(pos), k"
        ).fetchall()
    ]
    return Header(decoded, keys, _JsonLines(raw_table, rejected), sha256=digest)


def _jsonl_rows(
    con: duckdb.DuckDBPyConnection, header: Header, lines: _JsonLines, plan: TypingPlan, table: str
) -> SourceTable:
    """One JSON object per line; lines are physical."""
    raw_table, keys = lines.raw_table, header.headers
    rejected = list(lines.rejected)
    for line, raw in con.execute(
        f"SELECT _line, text FROM {raw_table} WHERE NOT ok ORDER BY _line"
    ).fetchall():
        shown = raw.rstrip("\r")
        detail = "not a JSON object" if _is_json(shown) else "invalid JSON"
        rejected.append(Rejected(line, "bad_json", f"{detail}: {shown[:200]!r}", shown))
    rejected.sort(key=lambda r: r.line)
    if keys:
        paths = "[" + ", ".join(literal("$." + json.dumps(k, ensure_ascii=False)) for k in keys) + "]"
        cols = ", ".join(f"v[{i + 1}] AS {col_name(i)}" for i in range(len(keys)))
        source = (
            f"(SELECT _line, {cols} FROM (SELECT _line, json_extract_string(text, {paths}) AS v "
            f"FROM {raw_table} WHERE ok))"
        )
    else:
        source = f"(SELECT _line FROM {raw_table} WHERE ok)"
    try:
        _type(con, plan, table, source, keys, True)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {raw_table}")
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    file = header.decoded.file
    return SourceTable(
        file,
        table,
        keys,
        "s._line",
        rejected=rejected,
        rows=rows,
        encoding=header.decoded.encoding,
        bytes=file.path.stat().st_size,
        sha256=header.sha256,
    )


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# -- XLSX -----------------------------------------------------------------------------------------

_EXCEL_EPOCH = datetime(1899, 12, 30)


def _cell_text(value: object, as_date: bool) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (int, float)):
        if as_date and isinstance(value, float | int) and 0 < value < 2958466:  # Excel serial date
            return (_EXCEL_EPOCH + timedelta(days=float(value))).isoformat(sep=" ", timespec="seconds")
        if isinstance(value, float):
            if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
                return str(int(value))
            return repr(value)
        return str(value)
    return str(value)


@dataclass(frozen=True)
class _Sheet:
    rows: list[list[object]]  #: the first sheet's cells, as python-calamine gives them
    header_at: int  #: index of the header row (the first non-empty one)
    width: int  #: columns up to the header's last non-empty cell


def _xlsx_header(decoded: Decoded) -> Header:
    """The whole first sheet; its first non-empty row is the header."""
    from python_calamine import CalamineError, CalamineWorkbook

    file = decoded.file
    digest = _sha256(file.path)
    try:
        wb = CalamineWorkbook.from_path(str(file.path))
        try:
            rows = wb.get_sheet_by_index(0).to_python(skip_empty_area=False)
        finally:
            wb.close()
    except (CalamineError, OSError, ValueError) as exc:
        raise L2CInputError(
            f"cannot read the workbook ({type(exc).__name__}: {exc})",
            file=file.relpath,
            hint="re-export the file (a valid .xlsx, data on the first sheet) and re-run the load",
        ) from None
    header_at = next((i for i, r in enumerate(rows) if any(v not in ("", None) for v in r)), None)
    if header_at is None:
        return Header(decoded, [], sha256=digest)
    header_row = rows[header_at]
    width = len(header_row)
    while width and header_row[width - 1] in ("", None):
        width -= 1
    headers = [_cell_text(v, False) or "" for v in header_row[:width]]
    return Header(decoded, headers, _Sheet(rows, header_at, width), sha256=digest)


def _xlsx_rows(
    con: duckdb.DuckDBPyConnection,
    header: Header,
    sheet: _Sheet,
    plan: TypingPlan,
    table: str,
    dates: Collection[int],
) -> SourceTable:
    """The rows below the header; lines are sheet rows (1-based)."""
    rows, width = sheet.rows, sheet.width
    values: list[list[str | None]] = [[] for _ in range(width)]
    lines: list[int] = []
    rejected: list[Rejected] = []
    for i in range(sheet.header_at + 1, len(rows)):
        row = rows[i]
        texts = [_cell_text(v, j in dates) for j, v in enumerate(row)]
        if all(t is None for t in texts):
            continue
        extra = [t for t in itertools.islice(texts, width, None) if t is not None]
        if extra:
            raw = json.dumps(texts, ensure_ascii=False)
            last = max(j for j, t in enumerate(texts) if t is not None) + 1
            rejected.append(
                Rejected(
                    i + 1,
                    "long_row",
                    f"row has values in {last} columns, more than the header's {width}",
                    raw,
                )
            )
            continue
        for j in range(width):
            values[j].append(texts[j] if j < len(texts) else None)
        lines.append(i + 1)
    arrays = {col_name(j): pa.array(values[j], pa.string()) for j in range(width)}
    arrays["_line"] = pa.array(lines, pa.int64())
    _type_arrow(con, plan, table, pa.table(arrays), header.headers)
    file = header.decoded.file
    return SourceTable(
        file,
        table,
        header.headers,
        "s._line",
        rejected=rejected,
        rows=len(lines),
        encoding=None,
        bytes=file.path.stat().st_size,
        sha256=header.sha256,
    )
