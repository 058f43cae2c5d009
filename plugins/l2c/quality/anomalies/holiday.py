"""``holiday_catchup_spike``: the weekly MQL->SQL flow rate jumps around a long holiday (seed 003).

After Spring Festival 2024 the MQL->SQL rate jumped in the first week of February because
conversions due two weeks earlier were recorded late. Around every long holiday (a run of at least
``long_holiday_min_days`` non-working days holding a public holiday: Spring Festival, National
Day, ...) the weeks from ``weeks_before`` before to ``weeks_after`` after it are tested, nationally.

The expectation knows the China calendar: SQL conversions are recorded on working days, and a
working day records the conversions due since the previous working day (its *collection days*: a
Monday three, the first day after an eight-day holiday eight, a make-up Sunday one). The usual
rate ``lambda`` (SQLs per collection day) comes from the ``baseline_weeks`` most recent weeks that
lie outside every holiday window and were not flagged (never the tested week); the share ``q`` of
conversions recorded on the non-working day they fall due (instead of the next working day) comes
from the same weeks. Expected SQLs of a week = ``lambda x`` its collection days (a day counts
``q + (1 - q) x`` its collection days); weeks with fewer than ``min_working_days`` are not tested; expected flow rate = expected SQLs / the week's MQLs. The
week is flagged when observed SQLs exceed ``min_ratio x`` expected and a quasi-Poisson test (the
dispersion of the baseline weeks) gives p < ``alpha_warn``. The message names the holiday.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from .core import Anomaly, Calendar, fmt_pct, quasi_poisson_sf, score_of, severity_for


def holiday_catchup_spike(
    flow_week: pd.DataFrame, flow_day: pd.DataFrame, cal: Calendar, as_of: date, cfg: dict[str, Any]
) -> list[Anomaly]:
    """``flow_week`` / ``flow_day``: national weekly / daily rows (period_start, mqls, sqls)."""
    cd = cal.collection_days
    daily = {r.period_start: float(r.sqls or 0) for r in flow_day.itertuples()}
    weeks = {
        r.period_start: (float(r.mqls or 0), float(r.sqls or 0))
        for r in flow_week.itertuples()
        if r.period_start + timedelta(days=6) <= as_of
    }
    if not weeks:
        return []
    first_day = min(cal.days["date_day"])

    def days_of(monday: date) -> list[date]:
        return [monday + timedelta(days=i) for i in range(7)]

    def cdw(monday: date, q: float = 0.0) -> float:
        # a share q of conversions is recorded on the day it falls due even when that day is not
        # worked; the rest waits for the next working day
        return sum(q + (1 - q) * cd.get(d, 0) for d in days_of(monday))

    def off_day_share(base: list[date]) -> float:
        """q from the baseline: SQLs recorded on non-working days vs the share of such days."""
        days = [d for m in base for d in days_of(m)]
        off = [d for d in days if d not in cd]
        total = sum(daily.get(d, 0.0) for d in days)
        if not off or not total:
            return 0.0
        return min(0.5, (sum(daily.get(d, 0.0) for d in off) / total) / (len(off) / len(days)))

    holidays = cal.long_holidays(int(cfg["long_holiday_min_days"]))
    windows = []  # (first monday, last monday, holiday)
    for first, last, name in holidays:
        a = first - timedelta(days=7 * int(cfg["weeks_before"]))
        b = last + timedelta(days=7 * int(cfg["weeks_after"]))
        windows.append(
            (a - timedelta(days=a.weekday()), b - timedelta(days=b.weekday()), (first, last, name))
        )
    in_any_window = {m for m in weeks for a, b, _ in windows if a <= m <= b}
    ordered = sorted(weeks)
    flagged: set[date] = set()
    out: list[Anomaly] = []
    for a, b, (first, last, name) in windows:
        for monday in [m for m in ordered if a <= m <= b]:
            if monday in flagged or monday - timedelta(days=7) < first_day:
                continue
            base = [m for m in ordered if m < a and m not in in_any_window and m not in flagged][
                -int(cfg["baseline_weeks"]) :
            ]
            if len(base) < cfg["min_baseline_weeks"]:
                continue
            if sum(1 for d in days_of(monday) if d in cd) < cfg["min_working_days"]:
                continue  # a catch-up needs working days to record the backlog on
            q = off_day_share(base)
            denom = sum(cdw(m, q) for m in base)
            lam = sum(weeks[m][1] for m in base) / denom if denom else 0.0
            if lam <= 0:
                continue
            resid = [(weeks[m][1] - lam * cdw(m, q)) ** 2 / (lam * cdw(m, q)) for m in base if cdw(m, q) > 0]
            phi = max(1.0, sum(resid) / max(1, len(resid) - 1))
            mqls, x = weeks[monday]
            mu = lam * cdw(monday, q)
            if mu <= 0 or x < cfg["min_sqls"] or x < cfg["min_ratio"] * mu:
                continue
            p = quasi_poisson_sf(x, mu, phi)
            if p >= cfg["alpha_warn"]:
                continue
            flagged.add(monday)
            rate = x / mqls if mqls else None
            expected_rate = mu / mqls if mqls else None
            usual = sum(weeks[m][1] for m in base) / max(1.0, sum(weeks[m][0] for m in base))
            out.append(
                Anomaly(
                    check_name="holiday_catchup_spike",
                    metric="mql_to_sql_rate",
                    period_grain="week",
                    period_start=monday,
                    period_end=monday + timedelta(days=6),
                    source="crm",
                    entity="leads",
                    observed=round(rate, 6) if rate is not None else x,
                    expected=round(expected_rate, 6) if expected_rate is not None else round(mu, 3),
                    score=score_of(p),
                    p_value=p,
                    severity=severity_for(p, cfg["alpha_error"]),
                    message=(
                        f"week of {monday} around {name} ({first}..{last}): MQL->SQL flow rate "
                        f"{fmt_pct(rate)} ({int(x)} SQLs / {int(mqls)} MQLs) vs {fmt_pct(expected_rate)} "
                        f"expected ({mu:.0f} SQLs: usual rate {fmt_pct(usual)} over {len(base)} usual "
                        f"weeks, {cdw(monday, q):.1f} collection days this week incl. make-up working days); "
                        f"p={p:.1e}. Conversions due earlier were probably recorded late, after {name}."
                    ),
                )
            )
    return out
