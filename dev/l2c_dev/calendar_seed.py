"""Generate the dbt seed ``china_calendar.csv``: China's working-day calendar, one row per date.

Month-end SQL spikes, "last 3 working days" and working-days-per-month all depend on the State
Council's holiday arrangement, which moves working days around every year: a holiday block is made
longer by turning weekend days into make-up workdays (调休). No formula gives those, so the calendar
comes from maintained libraries and is committed as a seed (reviewable in a diff, same on every
engine) instead of being computed in SQL.

* Years ``chinese_calendar`` covers (the official arrangement, published each November for the
  next year): holidays, their names and the make-up workdays. ``is_provisional = false``.
* Later years: ``holidays.China`` public holidays (statutory days plus the weekday they move to
  when one falls on a weekend), ``is_provisional = true`` and no make-up workdays: those are not
  guessable, so a provisional year has ``is_workday = weekday and not holiday``. Re-run this
  module when ``chinese_calendar`` publishes a new year, and commit the diff.

The output is deterministic (sorted, fixed spelling of booleans and newlines), so a test can
check that the committed file is what this module produces with the locked library versions.

    python -m l2c_dev.calendar_seed [--start 2020] [--end 2030] [--out dbt_project/seeds/china_calendar.csv]
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import chinese_calendar
import click
import holidays

log = logging.getLogger(__name__)

COLUMNS = (
    "calendar_date",
    "is_holiday",
    "holiday_name",
    "is_makeup_workday",
    "is_workday",
    "is_provisional",
)
DEFAULT_START = 2020
DEFAULT_END = 2030

#: Years with an official arrangement in the installed chinese_calendar.
OFFICIAL_YEARS = frozenset(d.year for d in chinese_calendar.holidays)

#: holidays.China names (en_US) -> chinese_calendar's names, so official and provisional years
#: spell a holiday the same way. Matched by prefix after dropping " (observed)"; a combined day
#: ("Mid-Autumn Festival; National Day") takes its first name, as chinese_calendar does.
_NAME_PREFIXES = (
    ("New Year's Day", "New Year's Day"),
    ("Chinese New Year", "Spring Festival"),  # ... Eve, ... (Spring Festival), ... Extended Holiday
    ("Tomb-Sweeping Day", "Tomb-sweeping Day"),
    ("Labor Day", "Labour Day"),
    ("Dragon Boat Festival", "Dragon Boat Festival"),
    ("Mid-Autumn Festival", "Mid-autumn Festival"),
    ("National Day", "National Day"),
)


@dataclass(frozen=True)
class CalendarDay:
    calendar_date: dt.date
    is_holiday: bool
    holiday_name: str | None
    is_makeup_workday: bool
    is_workday: bool
    is_provisional: bool


def _holiday_name(name: str) -> str:
    first = name.split(";")[0].strip().removesuffix(" (observed)")
    for prefix, canonical in _NAME_PREFIXES:
        if first.startswith(prefix):
            return canonical
    # A name a newer `holidays` release introduces: keep it rather than lose the holiday.
    log.warning("holidays.China name %r has no chinese_calendar equivalent; kept as is", name)
    return first


def _official_day(day: dt.date) -> CalendarDay:
    is_off, name = chinese_calendar.get_holiday_detail(day)
    weekend = day.weekday() >= 5
    # An ordinary weekend is (True, None); a make-up workday is a weekend day that is (False, <the
    # holiday it makes up for>).
    return CalendarDay(
        calendar_date=day,
        is_holiday=is_off and name is not None,
        holiday_name=name,
        is_makeup_workday=weekend and not is_off,
        is_workday=not is_off,
        is_provisional=False,
    )


def calendar_days(start_year: int, end_year: int) -> list[CalendarDay]:
    """Every date of ``start_year`` .. ``end_year`` (inclusive), official where known."""
    if start_year > end_year:
        raise ValueError(f"start year {start_year} is after end year {end_year}")
    provisional_years = [y for y in range(start_year, end_year + 1) if y not in OFFICIAL_YEARS]
    public = holidays.China(years=provisional_years, language="en_US", categories=("public",))
    days: list[CalendarDay] = []
    day, last = dt.date(start_year, 1, 1), dt.date(end_year, 12, 31)
    while day <= last:
        if day.year in OFFICIAL_YEARS:
            days.append(_official_day(day))
        else:
            name = public.get(day)
            days.append(
                CalendarDay(
                    calendar_date=day,
                    is_holiday=name is not None,
                    holiday_name=_holiday_name(name) if name else None,
                    is_makeup_workday=False,
                    is_workday=day.weekday() < 5 and name is None,
                    is_provisional=True,
                )
            )
        day += dt.timedelta(days=1)
    return days


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def write_calendar_seed(path: Path | str, start_year: int, end_year: int) -> Path:
    """Write the seed CSV (UTF-8, ``\\n`` line ends, header first); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    days = calendar_days(start_year, end_year)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for d in days:
            writer.writerow([_csv_value(getattr(d, c)) for c in COLUMNS])
    official = sorted({d.calendar_date.year for d in days if not d.is_provisional})
    log.info(
        "wrote %s: %d days %d-%d, official years %s, provisional after",
        path,
        len(days),
        start_year,
        end_year,
        f"{official[0]}-{official[-1]}" if official else "none",
    )
    return path


def default_seed_path() -> Path:
    from l2c.config import settings

    return settings().dbt_project_dir / "seeds" / "china_calendar.csv"


@click.command(
    help="Write the China working-day calendar seed for dbt (dbt_project/seeds/china_calendar.csv)."
)
@click.option("--start", "start_year", type=int, default=DEFAULT_START, show_default=True)
@click.option("--end", "end_year", type=int, default=DEFAULT_END, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Default: the dbt project's seeds folder.",
)
def main(start_year: int, end_year: int, out: Path | None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = write_calendar_seed(out or default_seed_path(), start_year, end_year)
    click.echo(str(path))


if __name__ == "__main__":
    main()
