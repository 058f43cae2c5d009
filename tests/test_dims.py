"""The core dimensions (dim_date, dim_region, dim_business_unit, dim_channel), built for real.

`dbt build --select +dim_*` runs on DuckDB and on PostgreSQL at the same time from the fixture raw
zone (tests/fixtures/raw_zone.py; PostgreSQL gets it by COPY into a fresh database). The calendar is
then checked against `chinese_calendar` and plain Python date arithmetic, never against the SQL's
own logic, and the two engines must produce identical tables.
"""

from __future__ import annotations

import calendar as pycal
import datetime as dt
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import chinese_calendar
import duckdb
import holidays
import pandas as pd
import psycopg
import pytest
from fixtures.pg import require_postgres
from fixtures.raw_zone import build_raw_zone

from l2c.dbt import dbt_executable
from l2c.ingest.postgres import copy_raw_zone
from l2c_dev.calendar_seed import write_calendar_seed

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "dbt_project"
SEED = PROJECT / "seeds" / "china_calendar.csv"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
DIMS = {
    "dim_date": "date_day",
    "dim_region": "region",
    "dim_business_unit": "business_unit",
    "dim_channel": "channel",
}
FIRST, LAST = dt.date(2020, 1, 1), dt.date(2030, 12, 31)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, pd.DataFrame]]]:
    """{engine: {table: frame}} for the four dims (and the staging tables dim_channel reads)."""
    work = tmp_path_factory.mktemp("dims")
    raw = work / "raw"
    build_raw_zone(raw)
    require_postgres(PG_ADMIN, "the dimension tests")
    pg_db = f"l2c_dims_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"create database {pg_db}")
    pg_conninfo = f"host=127.0.0.1 port=5432 user=postgres dbname={pg_db}"
    warehouse = work / "build.duckdb"
    try:
        copy_raw_zone(raw, pg_conninfo)
        procs = {}
        for engine in ("duckdb", "postgres"):
            env = {
                **os.environ,
                "L2C_RAW_DIR": str(raw),
                "L2C_BUILD_WAREHOUSE": str(warehouse),
                "L2C_PG_HOST": "127.0.0.1",
                "L2C_PG_PORT": "5432",
                "L2C_PG_USER": "postgres",
                "L2C_PG_PASSWORD": "",
                "L2C_PG_DBNAME": pg_db,
                "DBT_TARGET_PATH": str(work / f"target-{engine}"),
                "DBT_LOG_PATH": str(work / f"logs-{engine}"),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            }
            cmd = [dbt_executable(), "build", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
            cmd += ["--target", engine, "--select", *(f"+{d}" for d in DIMS)]
            # only tests whose every parent is selected (not the other seeds' relationship tests)
            cmd += ["--indirect-selection", "cautious"]
            procs[engine] = subprocess.Popen(
                cmd, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        for engine, proc in procs.items():
            output, _ = proc.communicate(timeout=240)
            assert proc.returncode == 0, f"dbt build --target {engine} failed:\n{output}"

        names = [*(f"marts.{d}" for d in DIMS), "staging.stg_ma__leads", "staging.stg_ma__activities"]
        out: dict[str, dict[str, pd.DataFrame]] = {"duckdb": {}, "postgres": {}}
        with duckdb.connect(str(warehouse), read_only=True) as con:
            for name in names:
                out["duckdb"][name.split(".")[1]] = con.sql(f"select * from {name}").df()
        with psycopg.connect(pg_conninfo) as con:
            for name in names:
                cur = con.execute(f"select * from {name}")
                frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
                out["postgres"][name.split(".")[1]] = frame
        yield out
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"drop database if exists {pg_db} with (force)")


@pytest.fixture(scope="module")
def dim_date(tables: dict[str, dict[str, pd.DataFrame]]) -> pd.DataFrame:
    frame = tables["duckdb"]["dim_date"].copy()
    for col in ("date_day", "iso_week_start", "month_start", "quarter_start", "year_start"):
        frame[col] = pd.to_datetime(frame[col]).dt.date
    return frame.set_index("date_day", drop=False).sort_index()


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _rows(dim_date: pd.DataFrame, first: dt.date, last: dt.date) -> pd.DataFrame:
    return dim_date.loc[_days(first, last)]


# ------------------------------------------------------------------------------------ the seed


def test_committed_calendar_seed_is_what_the_generator_writes(tmp_path: Path) -> None:
    fresh = write_calendar_seed(tmp_path / "china_calendar.csv", 2020, 2030)
    assert SEED.read_bytes() == fresh.read_bytes(), (
        "dbt_project/seeds/china_calendar.csv is stale: run `python -m l2c_dev.calendar_seed` and commit it"
    )


# ----------------------------------------------------------------------------------- dim_date


def test_dim_date_has_one_row_per_day(dim_date: pd.DataFrame) -> None:
    assert dim_date["date_day"].is_unique
    assert list(dim_date["date_day"]) == _days(FIRST, LAST)


def test_spring_festival_2024(dim_date: pd.DataFrame) -> None:
    feb = _rows(dim_date, dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    off = set(_days(dt.date(2024, 2, 10), dt.date(2024, 2, 17)))
    makeup = {dt.date(2024, 2, 4), dt.date(2024, 2, 18)}
    assert set(feb.index[feb["is_holiday"]]) == off
    assert set(feb.index[feb["is_makeup_workday"]]) == makeup
    assert not feb.loc[sorted(off), "is_workday"].any()
    assert feb.loc[sorted(makeup), "is_workday"].all()
    assert set(feb.loc[sorted(off | makeup), "holiday_name"]) == {"Spring Festival"}
    assert feb.loc[sorted(set(feb.index) - off - makeup), "holiday_name"].isna().all()


def test_national_day_2025(dim_date: pd.DataFrame) -> None:
    days = _rows(dim_date, dt.date(2025, 9, 20), dt.date(2025, 10, 20))
    # 8 days off (National Day + Mid-Autumn on 10-06), Sunday 09-28 and Saturday 10-11 worked
    assert set(days.index[days["is_holiday"]]) == set(_days(dt.date(2025, 10, 1), dt.date(2025, 10, 8)))
    assert set(days.index[days["is_makeup_workday"]]) == {dt.date(2025, 9, 28), dt.date(2025, 10, 11)}
    assert days.loc[dt.date(2025, 10, 1), "holiday_name"] == "National Day"
    assert not days["is_provisional"].any()


def test_official_years_follow_chinese_calendar(dim_date: pd.DataFrame) -> None:
    official = _rows(dim_date, FIRST, dt.date(2026, 12, 31))
    expected = [chinese_calendar.is_workday(d) for d in official.index]
    assert list(official["is_workday"]) == expected
    named = [chinese_calendar.get_holiday_detail(d)[1] for d in official.index]
    is_holiday = [not w and n is not None for w, n in zip(expected, named)]
    assert list(official["is_holiday"]) == is_holiday
    assert list(official["is_makeup_workday"]) == [
        w and d.weekday() >= 5 for d, w in zip(official.index, expected)
    ]
    assert not official["is_provisional"].any()


def test_later_years_are_provisional_public_holidays_without_makeup_days(dim_date: pd.DataFrame) -> None:
    later = _rows(dim_date, dt.date(2027, 1, 1), LAST)
    assert later["is_provisional"].all()
    assert not later["is_makeup_workday"].any()
    public = holidays.China(years=range(2027, 2031), categories=("public",))
    assert set(later.index[later["is_holiday"]]) == set(public)
    expected = [d.weekday() < 5 and d not in public for d in later.index]
    assert list(later["is_workday"]) == expected


@pytest.mark.parametrize("year, month", [(2024, 1), (2024, 2), (2025, 10)])
def test_working_day_positions(dim_date: pd.DataFrame, year: int, month: int) -> None:
    days = _days(dt.date(year, month, 1), dt.date(year, month, pycal.monthrange(year, month)[1]))
    workdays = [d for d in days if chinese_calendar.is_workday(d)]
    rows = dim_date.loc[days]
    for d in days:
        row = rows.loc[d]
        left = sum(1 for w in workdays if w > d)
        assert row["working_days_left_in_month"] == left, d
        if d in workdays:
            assert row["working_day_of_month"] == workdays.index(d) + 1, d
        else:
            assert pd.isna(row["working_day_of_month"]), d
    assert set(rows.index[rows["is_last_3_working_days_of_month"]]) == set(workdays[-3:])


def test_last_3_working_days_of_jan_and_feb_2024(dim_date: pd.DataFrame) -> None:
    flagged = dim_date.index[dim_date["is_last_3_working_days_of_month"]]
    jan = [d for d in flagged if (d.year, d.month) == (2024, 1)]
    feb = [d for d in flagged if (d.year, d.month) == (2024, 2)]
    assert jan == [dt.date(2024, 1, 29), dt.date(2024, 1, 30), dt.date(2024, 1, 31)]
    assert feb == [dt.date(2024, 2, 27), dt.date(2024, 2, 28), dt.date(2024, 2, 29)]
    assert dim_date.loc[dt.date(2024, 2, 29), "working_day_of_month"] == 18  # with both 调休 Sundays


def test_iso_weeks_start_on_monday(dim_date: pd.DataFrame) -> None:
    iso = [d.isocalendar() for d in dim_date.index]
    assert list(dim_date["day_of_week"]) == [c.weekday for c in iso]
    assert list(dim_date["iso_week"]) == [c.week for c in iso]
    assert list(dim_date["iso_year"]) == [c.year for c in iso]
    assert list(dim_date["iso_week_start"]) == [d - dt.timedelta(days=d.weekday()) for d in dim_date.index]
    assert list(dim_date["is_weekend"]) == [d.weekday() >= 5 for d in dim_date.index]
    new_year = dim_date.loc[dt.date(2024, 12, 30)]
    assert (new_year["iso_year"], new_year["iso_week"], new_year["day_of_week"]) == (2025, 1, 1)
    assert new_year["iso_week_start"] == dt.date(2024, 12, 30)


def test_period_starts(dim_date: pd.DataFrame) -> None:
    idx = dim_date.index
    assert list(dim_date["month_start"]) == [d.replace(day=1) for d in idx]
    assert list(dim_date["quarter_start"]) == [dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1) for d in idx]
    assert list(dim_date["year_start"]) == [dt.date(d.year, 1, 1) for d in idx]
    assert list(dim_date["day_of_month"]) == [d.day for d in idx]


# ---------------------------------------------------------------------------- the other dims


def _seed(name: str) -> pd.DataFrame:
    return pd.read_csv(PROJECT / "seeds" / f"{name}.csv", dtype=str, keep_default_na=False)


@pytest.mark.parametrize(
    "dim, key, seed",
    [("dim_region", "region", "regions"), ("dim_business_unit", "business_unit", "business_units")],
)
def test_dims_carry_unknown(
    tables: dict[str, dict[str, pd.DataFrame]], dim: str, key: str, seed: str
) -> None:
    frame = tables["duckdb"][dim]
    assert sorted(frame[key]) == sorted([*_seed(seed)[key], "UNKNOWN"])
    assert list(frame.loc[frame["is_unknown"], key]) == ["UNKNOWN"]


def test_dim_channel_keeps_unmapped_utm_sources_under_their_own_name(
    tables: dict[str, dict[str, pd.DataFrame]],
) -> None:
    built = tables["duckdb"]
    channel = built["dim_channel"].set_index("channel")
    seed = _seed("channels")
    seen = set(built["stg_ma__leads"]["utm_source"].dropna()) | set(
        built["stg_ma__activities"]["utm_source"].dropna()
    )
    unmapped = {s for s in seen if s.strip()} - set(seed["utm_source"]) - set(seed["channel"])
    assert unmapped, "the fixture raw zone should carry utm_sources the seed does not map"
    assert set(channel.index) == set(seed["channel"]) | unmapped | {"(none)"}
    assert channel.loc[sorted(seed["channel"]), "is_mapped"].all()
    for source in unmapped:
        assert channel.loc[source, "utm_source"] == source
        assert not channel.loc[source, "is_mapped"]
    assert channel.loc["(none)", "utm_source"] is None or pd.isna(channel.loc["(none)", "utm_source"])
    assert channel.loc["baidu_sem", "utm_source"] == "baidu"


@pytest.mark.parametrize("dim", list(DIMS))
def test_postgres_builds_the_same_dims(tables: dict[str, dict[str, pd.DataFrame]], dim: str) -> None:
    key = DIMS[dim]

    def normalized(frame: pd.DataFrame) -> list[tuple]:
        rows = frame.sort_values(key).astype(object).where(frame.notna(), None)
        return [tuple(_plain(v) for v in r) for r in rows.itertuples(index=False)]

    duck, pg = tables["duckdb"][dim], tables["postgres"][dim]
    assert list(duck.columns) == list(pg.columns)
    assert normalized(duck) == normalized(pg)


def _plain(value: object) -> object:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if hasattr(value, "item") and not isinstance(value, (str, bytes, dt.date)):
        return value.item()
    return value
