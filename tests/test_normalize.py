"""Typing rules in isolation: one column of each logical type through the SQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from l2c import schema
from l2c.ingest.normalize import (
    TypingPlan,
    clean_sql,
    fixed_offset_window,
    normalize_phone,
    normalize_phones,
    trailing_fixup_sql,
    typing_select,
    unique_headers,
)

TZ = "Asia/Shanghai"


def type_values(logical: str, values: list[str | None], *, accepted=None, required=False, tz=TZ, trim=None):
    """[(typed value, problem)] for ``values`` typed as a one-column entity of type ``logical``."""
    entity = schema.Entity(
        source="ma",
        name="t",
        key=("k",) if required else (),
        columns={"k": logical},
        accepted_values={"k": accepted} if accepted else {},
    )
    plan = TypingPlan(entity, {"k": '"c0"'}, tz, "CN")
    if trim is not None:
        plan = dataclasses.replace(plan, whitespace=trim[0], trailing=trim[1])
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{tz}'")
    con.register("src", pa.table({"c0": pa.array(values, pa.string())}))
    sql = typing_select(plan, "src", ["k"], has_line=False)
    return [(r[0], r[1]) for r in con.execute(f"SELECT t_k, _problem FROM ({sql})").fetchall()]


def ok(values):
    return [(v, None) for v in values]


def test_strings_are_trimmed_and_empty_is_null():
    got = type_values("string", ["  a b ", "\u3000x\u3000", "\u00a0y", "", "   ", None, "z"])
    assert got == ok(["a b", "x", "y", None, None, None, "z"])


def test_csv_cleaning_can_skip_rare_trailing_characters_and_fix_them_up():
    got = type_values("string", ["x\u3000", " y "], trim=((" ", "\u3000"), (" ",)))
    assert got == ok(["x\u3000", "y"])
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('x\u3000'), ('ok'), ('z\u00a0')) v(s)")
    con.execute(trailing_fixup_sql("t", ["s"], ("\u3000", "\u00a0")))
    assert [r[0] for r in con.execute("SELECT s FROM t ORDER BY s").fetchall()] == ["ok", "x", "z"]


def test_clean_sql_without_tests_only_nulls_empty():
    assert clean_sql("c", (), ()) == "nullif(c, '')"


def test_emails_are_trimmed_lower_cased_and_need_one_at():
    got = type_values(
        "email", [" Alice@Example.COM ", "bob@x.cn", "no-at", "a@@b.cn", "a b@c.cn", "@x.cn", None]
    )
    assert got == [
        ("alice@example.com", None),
        ("bob@x.cn", None),
        (None, "bad_email:k"),
        (None, "bad_email:k"),
        (None, "bad_email:k"),
        (None, "bad_email:k"),
        (None, None),
    ]


def test_china_mobiles_are_normalised_in_sql_and_the_rest_is_left_pending():
    got = type_values(
        "phone",
        [
            "13800138000",
            "+86 138-0013-8000",
            "008613800138000",
            "86 138 0013 8000",
            "+8613800138000",
            " 139 0013 9000 ",
            "010-62345678",
            "   ",
        ],
    )
    assert got == ok(["+8613800138000"] * 5 + ["+8613900139000", None, None])


def test_phonenumbers_handles_landlines_foreign_numbers_and_junk():
    assert normalize_phone("010-62345678") == "+861062345678"
    assert normalize_phone("+86 10 6234 5678") == "+861062345678"
    assert normalize_phone("(021) 5555 1234") == "+862155551234"
    assert normalize_phone("+1 650-253-0000") == "+16502530000"
    assert normalize_phone("12345") is None and normalize_phone("abc") is None and normalize_phone("") is None
    assert normalize_phones(["12345", "13800138000", "13800138000"]) == {
        "12345": None,
        "13800138000": "+8613800138000",
    }


def test_timestamps_become_naive_utc():
    values = [
        "2024-03-01 08:00:00",  # naive: business time
        "2024-03-01 08:00",
        "2024/03/01 08:00:00",
        "2024-03-01",
        "2024-03-01T08:00:00Z",
        "2024-03-01T08:00:00+08:00",
        "2024-03-01T08:00:00.250+0530",
        "2024-03-01 08:00:00 +08:00",
        "2024年3月1日 08:00:00",
        "  2024-03-01 08:00:00 ",
        "1988-07-01 08:00:00",  # Shanghai had daylight saving time then: ICU, not the fixed offset
    ]
    got = type_values("timestamp", values)
    assert got == ok(
        [
            dt.datetime(2024, 3, 1, 0, 0),
            dt.datetime(2024, 3, 1, 0, 0),
            dt.datetime(2024, 3, 1, 0, 0),
            dt.datetime(2024, 2, 29, 16, 0),
            dt.datetime(2024, 3, 1, 8, 0),
            dt.datetime(2024, 3, 1, 0, 0),
            dt.datetime(2024, 3, 1, 2, 30, 0, 250000),
            dt.datetime(2024, 3, 1, 0, 0),
            dt.datetime(2024, 3, 1, 0, 0),
            dt.datetime(2024, 3, 1, 0, 0),
            dt.datetime(1988, 6, 30, 23, 0),
        ]
    )


def test_impossible_timestamps_are_bad():
    got = type_values(
        "timestamp",
        ["2024-02-30 10:00:00", "2024-13-01", "25:00", "abc", "2024-03-01 25:00:00", "3024-01-01", ""],
    )
    assert got == [(None, "bad_timestamp:k")] * 6 + [(None, None)]


def test_dates():
    got = type_values("date", ["2024-03-01", "2024/3/1", " 2024-03-01 ", "20240301", "2024-02-30", "x"])
    assert got == ok([dt.date(2024, 3, 1)] * 4) + [(None, "bad_date:k")] * 2


def test_decimals():
    got = type_values(
        "decimal", ["1,234.50", "¥1234.5", "￥ 99", "CNY 3,000", "1234元", " 7 ", "abc", "-5", "1.005"]
    )
    assert got[:6] == ok(
        [
            Decimal("1234.50"),
            Decimal("1234.50"),
            Decimal("99.00"),
            Decimal("3000.00"),
            Decimal("1234.00"),
            Decimal("7.00"),
        ]
    )
    assert got[6] == (None, "bad_decimal:k")
    assert got[7] == (Decimal("-5.00"), "negative_amount:k")
    assert got[8][1] is None


def test_integers():
    got = type_values("integer", ["12", "12.0", " 7 ", "1,234", "12.5", "abc", None])
    assert got == ok([12, 12, 7, 1234]) + [(None, "bad_integer:k"), (None, "bad_integer:k"), (None, None)]


def test_booleans():
    values = ["true", "FALSE", "1", "0", "yes", "No", "Y", "n", "t", "F", "是", "否", " True ", "maybe"]
    got = type_values("boolean", values)
    expected = [True, False, True, False, True, False, True, False, True, False, True, False, True]
    assert got == ok(expected) + [(None, "bad_boolean:k")]


def test_accepted_values_are_matched_case_insensitively_and_stored_lower_case():
    got = type_values(
        "string", ["new", "MQL", " Nurturing ", "weird", None], accepted=("new", "mql", "nurturing")
    )
    assert got == ok(["new", "mql", "nurturing"]) + [(None, "unexpected_value:k"), (None, None)]


def test_empty_key_is_missing_key():
    got = type_values("string", ["a", "", "  ", None], required=True)
    assert got == [("a", None), (None, "missing_key:k"), (None, "missing_key:k"), (None, "missing_key:k")]
    got = type_values("timestamp", ["2024-03-01", "  ", None, "x"], required=True)
    assert [p for _, p in got] == [None, "missing_key:k", "missing_key:k", "bad_timestamp:k"]


def test_fixed_offset_window():
    since, until, seconds = fixed_offset_window("Asia/Shanghai")
    assert seconds == 8 * 3600 and since.startswith("1991-09") and until.startswith("2100")
    assert fixed_offset_window("UTC")[2] == 0
    assert fixed_offset_window("Europe/Berlin") is None


def test_dst_zone_uses_icu_for_every_value():
    got = type_values("timestamp", ["2024-07-01 08:00:00", "2024-01-15 08:00:00"], tz="Europe/Berlin")
    assert got == ok([dt.datetime(2024, 7, 1, 6, 0), dt.datetime(2024, 1, 15, 7, 0)])


def test_unique_headers_for_raw_records():
    assert unique_headers(["a", "a", "", "b", "a"]) == ["a", "a#2", "column 3", "b", "a#3"]


@pytest.mark.parametrize("logical", sorted(schema.RAW_TYPES))
def test_every_logical_type_types_to_its_raw_type(logical):
    entity = schema.Entity(source="ma", name="t", key=(), columns={"k": logical})
    plan = TypingPlan(entity, {"k": '"c0"'}, TZ, "CN")
    con = duckdb.connect()
    con.register("src", pa.table({"c0": pa.array([None], pa.string())}))
    sql = typing_select(plan, "src", ["k"], has_line=False)
    (row,) = con.execute(f"SELECT typeof(t_k) FROM ({sql})").fetchall()
    assert row[0].replace(" ", "") == schema.RAW_TYPES[logical]
