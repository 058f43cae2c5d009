"""Readers: one export file -> a DuckDB table of VARCHAR columns, with physical line numbers.

Every reader leaves the same shape behind, so typing (:mod:`l2c.ingest.normalize`) is one code path for
all formats: a table ``c0 .. c{n-1}`` (VARCHAR, positional to the file's headers) whose row order is
file order, an SQL expression giving each row's physical line, and the records that could not
become a row at all (short/long CSV rows, invalid JSON lines) with their reason and raw text.

- CSV: DuckDB's parallel reader (``all_varchar``; ``store_rejects`` catches short and long rows) plus
  a numpy scan of record starts (:mod:`l2c.ingest.csvscan`) for line numbers. When the two disagree (a
  malformed file, e.g. mixed line endings) Python's ``csv`` module reads the file instead.
- JSONL: the lines go to DuckDB as one string column; its JSON functions validate and extract them.
- XLSX: python-calamine reads the first sheet; Excel serial numbers in date columns become dates.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import logging
import math
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from l2c.errors import L2CInputError
from l2c.ingest.csvscan import SPECIAL_WHITESPACE, Records, record_bytes, scan_records
from l2c.ingest.landing import (
    LEGACY,
    ExportFile,
    decodes_as,
    detect_legacy,
    sniff_encoding,
    transcode_legacy,
    transcode_to_utf8,
)
from l2c.ingest.normalize import lit, unique_headers

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
    """What a reader produced: the typed table (built through the loader's ``build`` callback)."""

    file: ExportFile
    table: str  #: the typed table (see :func:`l2c.ingest.normalize.typing_select`)
    headers: list[str]
    line_sql: str  #: SQL over alias ``s`` (the typed table, and ``b`` with join_sql) giving the line
    join_sql: str = ""  #: extra FROM clause needed by line_sql
    rejected: list[Rejected] = field(default_factory=list)
    rows: int = 0  #: rows in ``table``
    encoding: str | None = None
    bytes: int = 0
    sha256: str = ""
    extra_tables: list[str] = field(default_factory=list)
    #: trailing characters the per-value tests skipped but the file contains (fix up afterwards)
    trailing_fixup: tuple[str, ...] = ()

    @property
    def rows_in(self) -> int:
        return self.rows + len(self.rejected)


#: ``build(from_sql, headers, has_line, trim)``: create the typed table from VARCHAR columns
#: c0..c{n-1} (+ ``_line`` when has_line); ``trim``: (characters tested at the start of values,
#: at their end) or None for all whitespace at both ends.
Build = Callable[[str, list[str], bool, "tuple[tuple[str, ...], tuple[str, ...]] | None"], None]


def col(i: int) -> str:
    return f"c{i}"


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


def read_csv(
    con: duckdb.DuckDBPyConnection,
    file: ExportFile,
    table: str,
    workdir: Path,
    resolve: Callable[[list[str]], object],
    build: Build,
) -> SourceTable:
    """Read and type one CSV file into ``table`` in a single DuckDB pass.

    ``resolve(headers)`` runs before any data is read (and may raise); ``build`` creates the typed
    table from the ``read_csv`` call. DuckDB's row order is file order, so ``rowid`` of the typed
    table is the n-th good record, and the record scan turns that into a physical line.
    """
    path = file.path
    encoding = sniff_encoding(path)
    size = path.stat().st_size
    while True:
        read_path = path
        if encoding == LEGACY:
            read_path, encoding = transcode_legacy(path, workdir)
        elif encoding not in ("utf-8", "utf-8-sig"):
            read_path = transcode_to_utf8(path, encoding, workdir)
        hasher = hashlib.sha256() if read_path == path else None
        header = _read_header(read_path)
        if header is None:  # empty file (or only blank lines): no header, no rows
            log.warning("%s: empty file, no header and no rows", path)
            resolve([])
            build("(SELECT CAST(NULL AS BIGINT) AS _line LIMIT 0)", [], True, None)
            return SourceTable(
                file, table, [], "s._line", encoding=encoding, bytes=size, sha256=_sha256(path)
            )
        headers, delim, skip = header
        resolve(headers)
        n = len(headers)
        src = SourceTable(file, table, headers, "", encoding=encoding, bytes=size)
        has_tab, has_quote = _quick_flags(read_path)
        # The record scan (and checksum) runs on a second thread while DuckDB reads: numpy and
        # hashlib release the GIL, and DuckDB's scan leaves a core idle now and then.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="l2c-scan") as pool:
            scan = pool.submit(scan_records, read_path, hasher=hasher)
            if n < 2:
                records = scan.result()
                src.sha256 = hasher.hexdigest() if hasher is not None else _sha256(path)
                log.info("%s: one column; reading with Python's csv module", path)
                return _read_csv_python(con, src, read_path, delim, build)
            rejects_table, rejects_scan = f"rej_{_uid()}", f"rejscan_{_uid()}"
            columns = "{" + ", ".join(f"{lit(col(i))}: 'VARCHAR'" for i in range(n)) + "}"
            reader = (
                f"read_csv({lit(str(read_path))}, auto_detect=false, columns={columns}, header=true, "
                f"skip={skip}, delim={lit(delim)}, quote='\"', escape='\"', ignore_errors=true, "
                f"store_rejects=true, rejects_table={lit(rejects_table)}, rejects_scan={lit(rejects_scan)}, "
                "max_line_size=16777216)"
            )
            extra = (("\t",) if has_tab else ()) + (("\r", "\n") if has_quote else ())
            trim = (CSV_WHITESPACE + extra, (" ", *extra))
            try:
                build(reader, headers, False, trim)
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
            return _read_csv_python(con, src, read_path, delim, build)
        data_idx = nonblank[1:]
        rej = con.execute(
            f"SELECT line_byte_position, error_type, error_message FROM {rejects_table} "
            "ORDER BY line_byte_position"
        ).fetchall()
        con.execute(f"DROP TABLE IF EXISTS {rejects_table}; DROP TABLE IF EXISTS {rejects_scan}")
        # The 1 MiB sample was UTF-8 but later bytes are not: a legacy file whose first non-ASCII
        # byte comes late, or a UTF-8 file with a few corrupt rows (those are quarantined). GB18030
        # decodes real GBK files completely and real UTF-8 Chinese text almost never.
        if (
            encoding == "utf-8"
            and any(_REJECT_REASONS.get(r[1]) == "bad_encoding" for r in rej)
            and decodes_as(path, "gb18030") is None
            and decodes_as(path, "utf-8") is not None
        ):
            encoding = LEGACY
            con.execute(f"DROP TABLE IF EXISTS {table}")
            continue
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
            return _read_csv_python(con, src, read_path, delim, build)
        src.rows = rows
        src.trailing_fixup = tuple(sorted(records.special))
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
    con: duckdb.DuckDBPyConnection, src: SourceTable, path: Path, delim: str, build: Build
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
    arrays = {col(i): pa.array(values[i], pa.string()) for i in range(n)}
    arrays["_line"] = pa.array(lines, pa.int64())
    _build_from_arrow(con, pa.table(arrays), src.headers, build)
    src.rows = len(lines)
    src.rejected = rejected
    src.line_sql = "s._line"
    return src


def _build_from_arrow(
    con: duckdb.DuckDBPyConnection, data: pa.Table, headers: list[str], build: Build
) -> None:
    view = f"arrow_{_uid()}"
    con.register(view, data)
    try:
        build(view, headers, True, None)
    finally:
        con.unregister(view)


def _arrow_to_table(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    view = f"{table}_arrow_{_uid()}"
    con.register(view, data)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)


# -- JSON Lines ---------------------------------------------------------------------------------


def read_jsonl(
    con: duckdb.DuckDBPyConnection,
    file: ExportFile,
    table: str,
    workdir: Path,
    resolve: Callable[[list[str]], object],
    build: Build,
) -> SourceTable:
    """One JSON object per line; keys are the headers (first-seen order), lines are physical."""
    path = file.path
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    rejected: list[Rejected] = []
    encoding = "utf-8"
    if data.startswith(b"\xef\xbb\xbf"):
        encoding, data = "utf-8-sig", data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
        if encoding == "utf-8":
            try:
                encoding = detect_legacy(path)
                text = data.decode(encoding)
            except L2CInputError:
                text = None
        if text is None:  # mostly UTF-8 with some broken lines: quarantine those lines
            encoding = "utf-8"
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
    raw_table = f"{table}_json"
    view = f"{raw_table}_arrow"
    con.register(view, pa.table({"_line": lines, "text": texts}))
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {raw_table} AS SELECT _line, text, "
            f"CASE WHEN json_valid(text) THEN json_type(text) = 'OBJECT' ELSE false END AS ok FROM {view}"
        )
    finally:
        con.unregister(view)
    keys = [
        r[0]
        for r in con.execute(
            f"SELECT k FROM (SELECT _line, unnest(json_keys(text)) AS k, "
            f"generate_subscripts(json_keys(text), 1) AS pos FROM {raw_table} WHERE ok) "
            "GROUP BY k ORDER BY min(_line), min(pos), k"
        ).fetchall()
    ]
    ok_rows = con.execute(f"SELECT count(*) FROM {raw_table} WHERE ok").fetchall()[0][0]
    resolve(keys if ok_rows else [])  # no valid object: nothing to check, only rejects
    for line, raw in con.execute(
        f"SELECT _line, text FROM {raw_table} WHERE NOT ok ORDER BY _line"
    ).fetchall():
        shown = raw.rstrip("\r")
        detail = "not a JSON object" if _is_json(shown) else "invalid JSON"
        rejected.append(Rejected(line, "bad_json", f"{detail}: {shown[:200]!r}", shown))
    rejected.sort(key=lambda r: r.line)
    if keys:
        paths = "[" + ", ".join(lit("$." + json.dumps(k, ensure_ascii=False)) for k in keys) + "]"
        cols = ", ".join(f"v[{i + 1}] AS {col(i)}" for i in range(len(keys)))
        source = (
            f"(SELECT _line, {cols} FROM (SELECT _line, json_extract_string(text, {paths}) AS v "
            f"FROM {raw_table} WHERE ok))"
        )
    else:
        source = f"(SELECT _line FROM {raw_table} WHERE ok)"
    try:
        build(source, keys, True, None)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {raw_table}")
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return SourceTable(
        file,
        table,
        keys,
        "s._line",
        rejected=rejected,
        rows=rows,
        encoding=encoding,
        bytes=path.stat().st_size,
        sha256=digest,
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


def read_xlsx(
    con: duckdb.DuckDBPyConnection,
    file: ExportFile,
    table: str,
    workdir: Path,
    resolve: Callable[[list[str]], object],
    build: Build,
    date_columns: Callable[[list[str]], set[int]] | None = None,
) -> SourceTable:
    """First sheet; the first non-empty row is the header; lines are sheet rows (1-based)."""
    from python_calamine import CalamineError, CalamineWorkbook

    path = file.path
    digest = _sha256(path)
    try:
        wb = CalamineWorkbook.from_path(str(path))
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
        resolve([])
        build("(SELECT CAST(NULL AS BIGINT) AS _line LIMIT 0)", [], True, None)
        return SourceTable(
            file, table, [], "s._line", encoding=None, bytes=path.stat().st_size, sha256=digest
        )
    header_row = rows[header_at]
    width = len(header_row)
    while width and header_row[width - 1] in ("", None):
        width -= 1
    headers = [_cell_text(v, False) or "" for v in header_row[:width]]
    resolve(headers)
    dates = date_columns(headers) if date_columns else set()
    values: list[list[str | None]] = [[] for _ in range(width)]
    lines: list[int] = []
    rejected: list[Rejected] = []
    for i in range(header_at + 1, len(rows)):
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
    arrays = {col(j): pa.array(values[j], pa.string()) for j in range(width)}
    arrays["_line"] = pa.array(lines, pa.int64())
    _build_from_arrow(con, pa.table(arrays), headers, build)
    return SourceTable(
        file,
        table,
        headers,
        "s._line",
        rejected=rejected,
        rows=len(lines),
        encoding=None,
        bytes=path.stat().st_size,
        sha256=digest,
    )
