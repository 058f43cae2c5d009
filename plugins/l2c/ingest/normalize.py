"""Typing rules as DuckDB SQL, plus the few values SQL cannot type.

Every input value arrives as VARCHAR. Each logical type of :data:`l2c.schema.RAW_TYPES` has a
*clean* step (trim, '' -> NULL, case) and a *type* step (``try_cast``, ``try_strptime``, regex) that
yields NULL when the value is bad; a row where a non-empty input typed to NULL is quarantined with
the type's reason code. All of it is vectorised SQL over the whole file: no Python per row.

Phones are the exception that proves the rule: the common China mobile forms (``13800138000``,
``+86 138-0013-8000``, ``008613800138000``, ``86 138...``) are normalised by regex in SQL, and only
the *distinct* leftovers (landlines, foreign numbers, junk) go through the ``phonenumbers`` library.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from l2c import schema
from l2c.sql import ident, literal

log = logging.getLogger(__name__)

#: Reason codes of the quarantine, in the order they are checked within one column.
REASONS = (
    "short_row",
    "long_row",
    "bad_json",
    "bad_encoding",
    "malformed_row",
    "missing_key",
    "missing_required",
    "bad_timestamp",
    "bad_date",
    "bad_decimal",
    "bad_integer",
    "bad_boolean",
    "bad_phone",
    "bad_email",
    "unexpected_value",
    "negative_amount",
)

BAD_TYPE_REASON = {
    "timestamp": "bad_timestamp",
    "date": "bad_date",
    "decimal": "bad_decimal",
    "integer": "bad_integer",
    "boolean": "bad_boolean",
    "phone": "bad_phone",
    "email": "bad_email",
}

TRUE_WORDS = ("true", "1", "yes", "y", "t", "是")
FALSE_WORDS = ("false", "0", "no", "n", "f", "否")

#: Surrounding characters trimmed from every value (ASCII whitespace, ideographic space, NBSP).
WHITESPACE = (" ", "\t", "\r", "\n", "\u3000", "\u00a0")

#: Plausible range for timestamps and dates; outside it a value is a typo, not a date.
MIN_DATE = "1900-01-01"
MAX_DATE = "2100-01-01"

#: Extra timestamp/date layouts tried when DuckDB's ISO cast fails (local business time).
TIMESTAMP_FORMATS = (
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y.%m.%d",
)


#: Characters trimmed in the fallback paths (cheap there: they only see values that failed).
_ALL_WS = "".join(WHITESPACE)


def _trim_all(x: str) -> str:
    return f"trim({x}, {literal(_ALL_WS)})"


def clean_sql(
    expr: str, whitespace: tuple[str, ...] = WHITESPACE, trailing: tuple[str, ...] | None = None
) -> str:
    """Trim surrounding whitespace and turn '' into NULL (for values stored as strings).

    ``trim`` allocates a new string for every value, so it only runs where ``prefix``/``suffix``
    tests (byte comparisons, an order of magnitude cheaper) say there is something to trim.
    ``whitespace`` are the characters tested at the start, ``trailing`` (default: the same) at the
    end; the CSV reader narrows both to what the file can contain.
    """
    trailing = whitespace if trailing is None else trailing
    tests = [f"prefix({expr}, {literal(w)})" for w in whitespace] + [
        f"suffix({expr}, {literal(w)})" for w in trailing
    ]
    if not tests:
        return f"nullif({expr}, '')"
    chars = literal("".join(dict.fromkeys(whitespace + trailing)))
    return f"nullif(CASE WHEN {' OR '.join(tests)} THEN trim({expr}, {chars}) ELSE {expr} END, '')"


def trailing_fixup_sql(table: str, columns: list[str], chars: tuple[str, ...]) -> str:
    """UPDATE trimming ``chars`` off the end of string ``columns`` where they end in one of them.

    The CSV path leaves rare trailing characters (ideographic space, NBSP) out of its per-value
    tests and, when the file contains them at all, fixes the few values here instead.
    """
    sets = []
    tests = []
    all_chars = literal(_ALL_WS)
    for c in columns:
        col = ident(c)
        test = " OR ".join(f"suffix({col}, {literal(ch)})" for ch in chars)
        sets.append(f"{col} = CASE WHEN {test} THEN nullif(trim({col}, {all_chars}), '') ELSE {col} END")
        tests.append(f"({test})")
    return f"UPDATE {table} SET {', '.join(sets)} WHERE {' OR '.join(tests)}"


def fixed_offset_window(tz: str) -> tuple[str, str, int] | None:
    """(since, until, offset seconds) where ``tz`` has one constant UTC offset, up to 2100.

    Inside that window naive local time converts to UTC by subtracting a constant, which is much
    cheaper than ICU's calendar arithmetic per value. Asia/Shanghai: +08:00 since 1991-09-15.
    None for zones with daylight saving time today (ICU converts every value there).
    """
    return _fixed_offset_window(tz)


@lru_cache(maxsize=8)
def _fixed_offset_window(tz: str) -> tuple[str, str, int] | None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    end = datetime(2100, 1, 1)

    def off(d: datetime) -> timedelta:
        return d.replace(tzinfo=zone).utcoffset() or timedelta(0)

    ref = off(end)
    step = timedelta(days=7)
    probe = end
    while probe > datetime(1900, 1, 8) and off(probe - step) == ref:
        probe -= step
    if end - probe < timedelta(days=366):
        return None  # the offset changes every year: daylight saving time
    lo, hi = probe - step, probe  # off(lo) differs (or lo is 1900), off(hi) == ref
    if probe > datetime(1900, 1, 8):
        while hi - lo > timedelta(hours=1):
            mid = lo + (hi - lo) / 2
            if off(mid) == ref:
                hi = mid
            else:
                lo = mid
        # a day later than the first hour with the final offset: clear of any transition's gap/overlap
        since = (hi + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    else:
        since = datetime(1900, 1, 1)
    return since.isoformat(sep=" "), end.isoformat(sep=" "), int(ref.total_seconds())


def _in_list(words: Iterable[str]) -> str:
    return ", ".join(literal(w) for w in words)


def _cases(words: Iterable[str]) -> list[str]:
    """The words as written lower, UPPER and Title case (the forms seen in practice)."""
    out: list[str] = []
    for w in words:
        out += [w, w.upper(), w.title()]
    return list(dict.fromkeys(out))


def _is_one_of(x: str, words: Iterable[str]) -> str:
    """``x = 'a' OR x = 'b' ...``: DuckDB turns a long ``IN (...)`` list into a hash join."""
    return "(" + " OR ".join(f"{x} = {literal(w)}" for w in words) + ")"


# -- phones -----------------------------------------------------------------------------------------

#: Separators people put into phone numbers (ASCII and full-width forms).
_PHONE_SEPARATORS = r"[\s\-().\x{3000}\x{00a0}－（）]"
_CN_MOBILE = r"(?:\+?86|0086)?1[3-9][0-9]{9}"


def normalize_phone(value: str, region: str = "CN") -> str | None:
    """E.164 form of one phone number, or None when it is not a valid number."""
    import phonenumbers

    text = (value or "").strip()
    if not text:
        return None
    try:
        num = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def normalize_phones(values: Iterable[str], region: str = "CN") -> dict[str, str | None]:
    """:func:`normalize_phone` over distinct values (the SQL fast path's leftovers)."""
    return {v: normalize_phone(v, region) for v in set(values)}


# -- per-type SQL ---------------------------------------------------------------------------------

#: Types whose value is stored as a (cleaned) string: these are trimmed up front. All the others
#: are parsed from the raw string (casts ignore surrounding spaces) and trimmed only on failure.
CLEANED = ("string", "email")


@dataclass(frozen=True)
class TypeSQL:
    """How one logical type is typed, as SQL templates, in up to four steps.

    ``fast`` ({v}: the input) handles the common form and runs on every value; ``lazy`` ({v})
    prepares the input for the general form and ``slow`` ({tv}: lazy's result) parses it, both only
    for values where ``fast`` gave NULL; ``finish`` ({x}: the parsed value) validates it. Each step
    is its own projection and no step repeats an expensive sub-expression: DuckDB's common
    sub-expression elimination would hoist a repeated one out of its CASE branch and compute it for
    every row.
    """

    fast: str
    finish: str = "{x}"
    lazy: str | None = None
    slow: str | None = None


def typed_sql(logical: str, *, business_tz: str, accepted: tuple[str, ...] | None = None) -> TypeSQL:
    """The typing of ``logical``; a NULL result for a non-empty input means "bad value"."""
    trimmed = _trim_all("{v}")
    if accepted:
        return TypeSQL(
            fast=f"CASE WHEN {_is_one_of('{v}', accepted)} THEN {{v}} END",
            lazy=f"lower({trimmed})",
            slow=f"CASE WHEN {_is_one_of('{tv}', accepted)} THEN {{tv}} END",
        )
    if logical in ("string", "email"):
        valid = "{x} LIKE '_%@_%' AND NOT {x} LIKE '%@%@%' AND NOT contains({x}, ' ')"
        return TypeSQL(
            fast="{v}", finish=f"CASE WHEN {valid} THEN {{x}} END" if logical == "email" else "{x}"
        )
    if logical == "phone":  # Chinese mobiles in SQL; the rest goes to `phonenumbers` (see TypingPlan)
        return TypeSQL(
            fast="CASE WHEN regexp_full_match({v}, '1[3-9][0-9]{9}') THEN '+86' || {v} END",
            lazy=f"regexp_replace({trimmed}, {literal(_PHONE_SEPARATORS)}, '', 'g')",
            slow=f"CASE WHEN regexp_full_match({{tv}}, {literal(_CN_MOBILE)}) THEN '+86' || right({{tv}}, 11) END",
        )
    if logical == "timestamp":
        formats = "[" + _in_list(TIMESTAMP_FORMATS) + "]"
        space_offset = "regexp_replace({tv}, '\\s+([+-][0-9]{2}(:?[0-9]{2})?)$', '\\1')"
        tz = literal(business_tz)
        # Naive local time (the bulk of most exports): DuckDB's plain TIMESTAMP cast, then a constant
        # offset where the zone has one. Anything that may carry an offset goes through ICU.
        naive = (
            "(strlen({v}) <= 19 AND NOT contains({v}, '+') AND NOT suffix({v}, 'Z') "
            "AND NOT suffix({v}, 'z') AND NOT {v} LIKE '%:%-%')"
        )
        local = "try_cast({v} AS TIMESTAMP)"
        window = fixed_offset_window(business_tz)
        icu_local = f"timezone('UTC', timezone({tz}, {local}))"
        if window is not None:
            since, until, seconds = window
            to_utc = (
                f"CASE WHEN {local} >= TIMESTAMP '{since}' AND {local} < TIMESTAMP '{until}' "
                f"THEN {local} - INTERVAL '{seconds} seconds' ELSE {icu_local} END"
            )
        else:
            to_utc = icu_local
        return TypeSQL(
            fast=f"CASE WHEN {naive} THEN {to_utc} ELSE timezone('UTC', try_cast({{v}} AS TIMESTAMPTZ)) END",
            lazy=trimmed,
            slow=(
                f"timezone('UTC', coalesce(try_cast({{tv}} AS TIMESTAMPTZ), try_cast({space_offset} AS TIMESTAMPTZ), "
                f"timezone({tz}, try_strptime({{tv}}, {formats}))))"
            ),
            finish=f"CASE WHEN {{x}} >= TIMESTAMP '{MIN_DATE}' AND {{x}} < TIMESTAMP '{MAX_DATE}' THEN {{x}} END",
        )
    if logical == "date":
        formats = "[" + _in_list(TIMESTAMP_FORMATS) + "]"
        return TypeSQL(
            fast="try_cast({v} AS DATE)",
            lazy=trimmed,
            slow=f"coalesce(try_cast({{tv}} AS DATE), CAST(try_strptime({{tv}}, {formats}) AS DATE))",
            finish=f"CASE WHEN {{x}} >= DATE '{MIN_DATE}' AND {{x}} < DATE '{MAX_DATE}' THEN {{x}} END",
        )
    if logical == "decimal":
        return TypeSQL(
            fast="try_cast({v} AS DECIMAL(18,2))",
            lazy=trimmed,
            slow=(
                "try_cast(regexp_replace({tv}, '^(CNY|RMB|人民币)|[¥￥,\\s\\x{3000}\\x{00a0}]|元$', '', 'gi') "
                "AS DECIMAL(18,2))"
            ),
        )
    if logical == "integer":
        # try_cast('12.5' AS BIGINT) rounds to 13: only strings without a '.' take the fast path
        return TypeSQL(
            fast="CASE WHEN NOT contains({v}, '.') THEN try_cast({v} AS BIGINT) END",
            lazy=f"replace({trimmed}, ',', '')",
            slow="try_cast(regexp_extract({tv}, '^([+-]?[0-9]+)(\\.0*)?$', 1) AS BIGINT)",
        )
    if logical == "boolean":
        low = "{tv}"
        return TypeSQL(
            fast=(
                f"CASE WHEN {_is_one_of('{v}', _cases(TRUE_WORDS))} THEN true "
                f"WHEN {_is_one_of('{v}', _cases(FALSE_WORDS))} THEN false END"
            ),
            lazy=f"lower({trimmed})",
            slow=(
                f"CASE WHEN {_is_one_of(low, TRUE_WORDS)} THEN true "
                f"WHEN {_is_one_of(low, FALSE_WORDS)} THEN false END"
            ),
        )
    raise ValueError(f"unknown logical type {logical!r}")


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


@dataclass(frozen=True)
class TypingPlan:
    """How to type one entity file in SQL: which source column feeds which canonical column."""

    entity: schema.Entity
    columns: dict[str, str | None]  #: canonical column -> source column SQL (None: not in the file)
    business_tz: str
    phone_region: str
    whitespace: tuple[str, ...] = WHITESPACE
    #: characters tested at the end of stored strings (None: ``whitespace``)
    trailing: tuple[str, ...] | None = None

    @property
    def present(self) -> list[str]:
        return [c for c in self.entity.columns if self.columns.get(c) is not None]

    @property
    def phone_columns(self) -> list[str]:
        return [c for c in self.present if self.entity.columns[c] == "phone"]

    def cleaned(self, name: str) -> bool:
        return self.entity.columns[name] in CLEANED and not self.entity.accepted_values.get(name)

    def type_sql(self, name: str) -> TypeSQL:
        logical = self.entity.columns[name]
        if logical == "phone" and self.phone_region.upper() != "CN":
            return TypeSQL(fast="CAST(NULL AS VARCHAR)")  # everything goes to `phonenumbers`
        return typed_sql(
            logical, business_tz=self.business_tz, accepted=self.entity.accepted_values.get(name)
        )

    def clean_expr(self, name: str) -> str:
        """The value typing starts from: cleaned for stored strings, the raw string otherwise."""
        src = self.columns.get(name)
        if src is None:
            return "CAST(NULL AS VARCHAR)"
        if not self.cleaned(name):
            return src
        c = clean_sql(src, self.whitespace, self.trailing)
        return f"lower({c})" if self.entity.columns[name] == "email" else c

    def has_slow(self, name: str) -> bool:
        return self.type_sql(name).slow is not None

    def empty_sql(self, name: str, v: str, t: str, tv: str) -> str:
        """True when the column's input is empty (NULL, or only whitespace)."""
        if not self.has_slow(name):
            return f"{v} IS NULL"
        return f"({v} IS NULL OR {tv} = '')"

    def bad_sql(self, name: str, v: str, t: str, tv: str) -> str:
        """True when the column's input is not empty but did not type."""
        if not self.has_slow(name):
            return f"({t} IS NULL AND {v} IS NOT NULL)"
        return f"({t} IS NULL AND {v} IS NOT NULL AND ({tv} IS NULL OR {tv} <> ''))"

    def problems(self, cols: Mapping[str, Mapping[str, str]]) -> list[tuple[str, str, str, str]]:
        """(column, reason, condition SQL, detail SQL) in column order; the first true one wins.

        ``cols[name]`` names the SQL columns ``v``, ``tv`` and ``t`` of a canonical column. Phones
        are not judged here: what the SQL fast path leaves is looked up afterwards
        (:func:`phone_problem_update`).
        """
        e = self.entity
        out: list[tuple[str, str, str, str]] = []
        non_empty = set(e.non_empty_columns)
        for name, logical in e.columns.items():
            vn, tn, tvn = cols[name]["v"], cols[name]["t"], cols[name]["tv"]
            present = self.columns.get(name) is not None
            if name in non_empty:
                reason = "missing_key" if name in e.key else "missing_required"
                what = "key" if name in e.key else "required"
                cond = self.empty_sql(name, vn, tn, tvn) if present else "true"
                out.append((name, reason, cond, literal(f"{name}: {what} column is empty")))
            if not present:
                continue
            accepted = e.accepted_values.get(name)
            bad = self.bad_sql(name, vn, tn, tvn)
            if accepted:
                expected = " (expected one of " + ", ".join(accepted) + ")"
                detail = f"{literal(name + ': unexpected value ')} || {_quoted(vn)} || {literal(expected)}"
                out.append((name, "unexpected_value", bad, detail))
            elif logical in BAD_TYPE_REASON and logical != "phone":
                detail = f"{literal(f'{name}: not a valid {logical} ')} || {_quoted(vn)}"
                out.append((name, BAD_TYPE_REASON[logical], bad, detail))
            if logical == "decimal":
                detail = f"{literal(name + ': negative amount ')} || {_quoted(vn)}"
                out.append((name, "negative_amount", f"{tn} < 0", detail))
        return out


def _quoted(v: str) -> str:
    """SQL for ``'<value>'`` (the value in single quotes, for details)."""
    return f"chr(39) || {v} || chr(39)"


def typing_select(plan: TypingPlan, from_sql: str, headers: list[str], has_line: bool) -> str:
    """The SELECT that types one file: one pass, no Python per row.

    ``from_sql`` yields VARCHAR columns ``c0..c{n-1}`` (positional to ``headers``) and, when
    ``has_line``, ``_line``. Output columns: ``_line`` (if given), ``t_<column>`` for every canonical
    column (NULL when not in the file), ``_problem`` (``reason:column`` of the first problem, NULL
    if the row is fine), ``_detail`` (all problems, for quarantined rows), ``_pending_<phone>``
    (values the SQL fast path could not normalise) and ``_raw`` (the original record as a JSON
    object, only for rows that are or may become quarantined).
    """
    names = list(plan.entity.columns)
    present = [c for c in names if plan.columns.get(c) is not None]
    cols = {c: {k: ident(f"{k}_{c}") for k in ("v", "x0", "tv", "x", "t")} for c in names}
    ty = {c: plan.type_sql(c) for c in present}
    slow = [c for c in present if ty[c].slow is not None]

    def sep(items: list[str]) -> str:
        return "".join(f", {i}" for i in items)

    def col(c: str, k: str) -> str:
        return cols[c][k]

    layer_v = [f"{plan.clean_expr(c)} AS {col(c, 'v')}" for c in names]
    layer_p = [f"{_fill(ty[c].fast, v=col(c, 'v'))} AS {col(c, 'x0')}" for c in present]
    layer_r = [
        f"CASE WHEN {col(c, 'x0')} IS NULL AND {col(c, 'v')} IS NOT NULL "
        f"THEN {_fill(ty[c].lazy or '{v}', v=col(c, 'v'))} END AS {col(c, 'tv')}"
        for c in slow
    ]
    layer_s = [
        f"CASE WHEN {col(c, 'tv')} IS NULL THEN {col(c, 'x0')} ELSE {_fill(ty[c].slow or '', tv=col(c, 'tv'))} END "
        f"AS {col(c, 'x')}"
        for c in slow
    ] + [f"{col(c, 'x0')} AS {col(c, 'x')}" for c in present if c not in slow]
    layer_t = [
        f"{_fill(ty[c].finish, x=col(c, 'x'))} AS {col(c, 't')}"
        if c in present
        else f"CAST(NULL AS {schema.RAW_TYPES[plan.entity.columns[c]]}) AS {col(c, 't')}"
        for c in names
    ]
    problems = plan.problems(cols)
    if problems:
        problem = (
            "CASE "
            + " ".join(f"WHEN {cond} THEN {literal(r + ':' + c)}" for c, r, cond, _ in problems)
            + " END"
        )
        details = ", ".join(f"CASE WHEN {cond} THEN {d} END" for _, _, cond, d in problems)
        detail = f"concat_ws('; ', {details})"
    else:
        problem = detail = "CAST(NULL AS VARCHAR)"
    pending = [
        f"CASE WHEN {plan.bad_sql(c, col(c, 'v'), col(c, 't'), col(c, 'tv'))} THEN {_trim_all(col(c, 'v'))} END "
        f"AS {ident('_pending_' + c)}"
        for c in plan.phone_columns
    ]
    keys = unique_headers(headers)
    if keys:
        raw = (
            "json_object("
            + ", ".join(f"{literal(k)}, {ident(col_name(i))}" for i, k in enumerate(keys))
            + ")"
        )
    else:
        raw = "'{}'"
    suspect = " OR ".join(
        ["_problem IS NOT NULL"] + [f"{ident('_pending_' + c)} IS NOT NULL" for c in plan.phone_columns]
    )
    line = ["_line"] if has_line else []
    return f"""
    WITH s AS (SELECT * FROM {from_sql}),
    v AS (SELECT *{sep(layer_v)} FROM s),
    p AS (SELECT *{sep(layer_p)} FROM v),
    r AS (SELECT *{sep(layer_r)} FROM p),
    x AS (SELECT *{sep(layer_s)} FROM r),
    t AS (SELECT *{sep(layer_t)} FROM x),
    q AS (SELECT *, {problem} AS _problem{sep(pending)} FROM t)
    SELECT {", ".join(line + [col(c, "t") for c in names] + ["_problem"])},
        CASE WHEN _problem IS NOT NULL THEN {detail} END AS _detail
        {sep([ident("_pending_" + c) for c in plan.phone_columns])},
        CASE WHEN {suspect} THEN {raw} END AS _raw
    FROM q
    """


def col_name(i: int) -> str:
    """Name of the i-th input column in the readers' tables."""
    return f"c{i}"


def unique_headers(headers: list[str]) -> list[str]:
    """Headers as JSON keys: duplicates get a ``#2``, ``#3`` suffix, empty ones a column number."""
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(headers):
        key = h if h.strip() else f"column {i + 1}"
        seen[key] = seen.get(key, 0) + 1
        out.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return out


def phone_problem_update(plan: TypingPlan, table: str, name: str, lookup: str) -> str:
    """SQL applying the ``phonenumbers`` results in ``lookup(raw, e164)`` to the pending phones.

    A phone nobody could normalise becomes the row's problem unless an earlier column (in schema
    order) already is; its detail is added either way.
    """
    order = "[" + ", ".join(literal(c) for c in plan.entity.columns) + "]"
    idx = list(plan.entity.columns).index(name) + 1
    pend = ident("_pending_" + name)
    detail = f"{literal(name + ': not a valid phone ')} || {_quoted('m.raw')}"
    first = (
        f"({table}._problem IS NULL OR list_position({order}, split_part({table}._problem, ':', 2)) > {idx})"
    )
    return f"""
    UPDATE {table} SET
        {ident("t_" + name)} = m.e164,
        _problem = CASE WHEN m.e164 IS NULL AND {first} THEN {literal("bad_phone:" + name)} ELSE {table}._problem END,
        _detail = CASE WHEN m.e164 IS NULL AND {first} THEN concat_ws('; ', {detail}, {table}._detail)
                       WHEN m.e164 IS NULL THEN concat_ws('; ', {table}._detail, {detail})
                       ELSE {table}._detail END
    FROM {lookup} m
    WHERE {table}.{pend} = m.raw
    """
