"""The China working-day calendar as vectorised day tables.

Uses ``chinese_calendar`` (public holidays and make-up working days, years it covers). Outside its
range (it raises ``NotImplementedError``) a fallback applies: weekends off plus New Year, the Spring
Festival week (dates below), Labour Day (1–5 May) and National Day (1–7 Oct).

Times in the simulation are int64 *local* seconds since 1970-01-01 (naive Asia/Shanghai wall time);
``day = t // 86400`` is the local calendar day number.
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar as cc
import numpy as np

DAY = 86_400
HOUR = 3_600
EPOCH = dt.date(1970, 1, 1)

#: Lunar new year dates for the fallback calendar (years chinese_calendar may not cover).
_SPRING_FESTIVAL = {
    2000: (2, 5),
    2001: (1, 24),
    2002: (2, 12),
    2003: (2, 1),
    2027: (2, 6),
    2028: (1, 26),
    2029: (2, 13),
    2030: (2, 3),
    2031: (1, 23),
    2032: (2, 11),
    2033: (1, 31),
    2034: (2, 19),
    2035: (2, 8),
}


def day_number(d: dt.date) -> int:
    return (d - EPOCH).days


def to_date(day: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(day))


def _fallback_holiday(d: dt.date) -> str | None:
    if d.month == 1 and d.day == 1:
        return "New Year's Day"
    if d.month == 5 and 1 <= d.day <= 5:
        return "Labour Day"
    if d.month == 10 and 1 <= d.day <= 7:
        return "National Day"
    sf = _SPRING_FESTIVAL.get(d.year)
    if sf is not None:
        start = dt.date(d.year, *sf) - dt.timedelta(days=1)
        if 0 <= (d - start).days < 8:
            return "Spring Festival"
    return None


def holiday_name(d: dt.date) -> str | None:
    """The public holiday a date belongs to, or None (working day or plain weekend)."""
    try:
        on_holiday, name = cc.get_holiday_detail(d)
    except NotImplementedError:
        return _fallback_holiday(d)
    return name if on_holiday and name else None


def is_workday(d: dt.date) -> bool:
    try:
        return bool(cc.is_workday(d))
    except NotImplementedError:
        return d.weekday() < 5 and _fallback_holiday(d) is None


class DayTable:
    """Per-day calendar facts for a contiguous range of local days."""

    def __init__(self, first: dt.date, last: dt.date):
        self.first = first
        self.day0 = day_number(first)
        n = (last - first).days + 1
        dates = [first + dt.timedelta(days=i) for i in range(n)]
        self.dates = dates
        self.workday = np.array([is_workday(d) for d in dates], dtype=bool)
        names = [holiday_name(d) for d in dates]
        self.holiday = np.array([n_ is not None for n_ in names], dtype=bool)
        self.spring_festival = np.array([n_ == "Spring Festival" for n_ in names], dtype=bool)
        # next working day index >= i (the last day maps to itself if it is not one)
        nxt = np.empty(n, dtype=np.int64)
        upcoming = n - 1
        for i in range(n - 1, -1, -1):
            if self.workday[i]:
                upcoming = i
            nxt[i] = upcoming
        self.next_workday = nxt

    def __len__(self) -> int:
        return len(self.dates)

    def index(self, days: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(days, dtype=np.int64) - self.day0, 0, len(self) - 1)

    def is_workday_at(self, t: np.ndarray) -> np.ndarray:
        return self.workday[self.index(np.asarray(t) // DAY)]

    def to_business_time(self, t: np.ndarray, rng: np.random.Generator, p_keep: float = 0.06) -> np.ndarray:
        """Move event times forward onto working hours (09:00–19:00 of a working day).

        A share ``p_keep`` of events stays where it is (people do work on weekends and evenings).
        Only moves forward, so the order of consecutive events is preserved when applied step by step.
        """
        t = np.asarray(t, dtype=np.int64)
        n = len(t)
        keep = rng.random(n) < p_keep
        day = t // DAY
        sec = t - day * DAY
        idx = self.index(day)
        nxt = self.next_workday[idx] + self.day0
        fresh = rng.integers(9 * HOUR, 18 * HOUR, n) + rng.integers(0, HOUR, n)
        same_day = (nxt == day) & (sec >= 9 * HOUR) & (sec < 19 * HOUR)
        early = (nxt == day) & (sec < 9 * HOUR)
        late = (nxt == day) & (sec >= 19 * HOUR)
        out = np.where(same_day, t, nxt * DAY + fresh)
        out = np.where(early, day * DAY + 9 * HOUR + (fresh - 9 * HOUR) // 3, out)
        # after 19:00 on a working day: next working day
        nxt2 = self.next_workday[np.clip(idx + 1, 0, len(self) - 1)] + self.day0
        out = np.where(late, nxt2 * DAY + 9 * HOUR + (fresh - 9 * HOUR) // 3, out)
        out = np.maximum(out, t)
        return np.where(keep, t, out)

    def working_days_in(self, first: dt.date, last: dt.date) -> list[dt.date]:
        a = max(0, (first - self.first).days)
        b = min(len(self) - 1, (last - self.first).days)
        return [self.dates[i] for i in range(a, b + 1) if self.workday[i]]

    def spring_festival_spans(self) -> list[tuple[dt.date, dt.date]]:
        """(first, last) day of each Spring Festival holiday block in the table."""
        spans = []
        sf = self.spring_festival
        i = 0
        while i < len(sf):
            if sf[i]:
                j = i
                while j + 1 < len(sf) and (
                    sf[j + 1] or (not self.workday[j + 1] and j + 2 < len(sf) and sf[j + 2])
                ):
                    j += 1
                spans.append((self.dates[i], self.dates[j]))
                i = j + 1
            else:
                i += 1
        return spans
