"""``month_end_sql_spike`` and its day-level half ``sql_day_spike`` (seed 003).

SDRs are measured on SQL count, so SQL conversions pile up in the last working days of a month.

``month_end_sql_spike`` — per region x business unit x month (complete months only): ``x`` of the
month's ``n`` SQL conversions fall in its last N working days (``dim_date``: holidays and make-up
working days count as they are worked). With ``w`` of the month's ``W`` working days in that window,
the expected share is ``p0 = w / W x lift``, where ``lift`` is the company-wide month-end lift of
the baseline months (earlier months only, cells already flagged left out; 1.0 while there is too
little history). One-sided binomial test of ``x`` given ``n`` and ``p0``; flagged when the p-value
is below ``alpha_warn``, the share exceeds ``p0`` by ``min_share_excess`` and the cell has the
minimum volume. Elementary-style z-scores against a rolling mean that includes the tested month
and knows only the day of week would miss this: the window is defined by the working-day calendar.

``sql_day_spike`` — SQLs recorded on one working day, nationally and per region, against a
baseline of the preceding ``lookback_days`` (tested day, non-working days and flagged days left
out): expected = ``lambda x collection days x month-end lift``, where a working day's collection
days are itself plus the non-working days before it (a Monday collects its weekend, the first day
after a holiday the whole holiday). Quasi-Poisson test with the baseline's dispersion.
"""

from __future__ import annotations

import bisect
from datetime import date, timedelta
from typing import Any

import pandas as pd

from .core import (
    Anomaly,
    Calendar,
    binom_sf,
    fmt_pct,
    month_end,
    quasi_poisson_sf,
    score_of,
    severity_for,
)


def _leaf(flow_day: pd.DataFrame) -> pd.DataFrame:
    f = flow_day[(flow_day["region"] != "ALL") & (flow_day["business_unit"] != "ALL")]
    return f[["period_start", "region", "business_unit", "sqls"]]


def month_end_sql_spike(
    flow_day: pd.DataFrame, cal: Calendar, as_of: date, cfg: dict[str, Any]
) -> list[Anomaly]:
    n_win = int(cfg["window_working_days"])
    windows = cal.month_windows(n_win)
    wdays = cal.working_days_in_month()
    f = _leaf(flow_day).copy()
    f["month"] = [d.replace(day=1) for d in f["period_start"]]
    in_window = {d for ds in windows.values() for d in ds}
    f["in_window"] = [d in in_window for d in f["period_start"]]
    f["x"] = f["sqls"].where(f["in_window"], 0)
    cells = f.groupby(["month", "region", "business_unit"], as_index=False)[["sqls", "x"]].sum()
    cells = cells.rename(columns={"sqls": "n"})
    months = sorted(m for m in cells["month"].unique() if month_end(m) <= as_of and m in windows)
    flagged: set[tuple] = set()
    out: list[Anomaly] = []
    by_month = {m: g for m, g in cells.groupby("month")}
    lo, hi = cfg["lift_bounds"]
    for i, m in enumerate(months):
        # baseline: the preceding months only, flagged cells left out
        base_months = months[max(0, i - int(cfg["lookback_months"])) : i]
        xs = es = ns = 0.0
        for b in base_months:
            g = by_month[b]
            share = len(windows[b]) / wdays[b]
            for r in g.itertuples():
                if (b, r.region, r.business_unit) in flagged:
                    continue
                xs += r.x
                es += r.n * share
                ns += r.n
        lift = min(hi, max(lo, xs / es)) if ns >= cfg["min_baseline_sqls"] and es > 0 else 1.0
        share_wd = len(windows[m]) / wdays[m]
        p0 = min(0.95, share_wd * lift)
        win = windows[m]
        for r in by_month[m].itertuples():
            n, x = int(r.n), int(r.x)
            if n < cfg["min_month_sqls"] or x < cfg["min_window_sqls"]:
                continue
            observed = x / n
            if observed - p0 < cfg["min_share_excess"]:
                continue
            p = binom_sf(x, n, p0)
            if p >= cfg["alpha_warn"]:
                continue
            flagged.add((m, r.region, r.business_unit))
            out.append(
                Anomaly(
                    check_name="month_end_sql_spike",
                    metric=f"sql_share_last_{n_win}_working_days",
                    period_grain="month",
                    period_start=m,
                    period_end=month_end(m),
                    region=r.region,
                    business_unit=r.business_unit,
                    source="crm",
                    entity="leads",
                    observed=round(observed, 6),
                    expected=round(p0, 6),
                    score=score_of(p),
                    p_value=p,
                    severity=severity_for(p, cfg["alpha_error"]),
                    message=(
                        f"{r.region}/{r.business_unit} {m:%Y-%m}: {x} of {n} SQL conversions "
                        f"({fmt_pct(observed)}) in the last {len(win)} working days "
                        f"({win[0]:%m-%d}..{win[-1]:%m-%d}); expected {fmt_pct(p0)} "
                        f"({len(win)} of {wdays[m]} working days x month-end lift {lift:.2f}); "
                        f"binomial p={p:.1e}. SQLs were probably pulled in to meet the month's count."
                    ),
                )
            )
    return out


def sql_day_spike(
    flow_day: pd.DataFrame, cal: Calendar, as_of: date, cfg: dict[str, Any], lift_window: int = 3
) -> list[Anomaly]:
    cd = cal.collection_days
    windows = cal.month_windows(lift_window)
    month_end_days = {d for ds in windows.values() for d in ds}
    f = flow_day[(flow_day["business_unit"] == "ALL")][["period_start", "region", "sqls"]]
    f = f[f["period_start"] <= as_of]
    out: list[Anomaly] = []
    lookback = timedelta(days=int(cfg["lookback_days"]))
    for region, g in f.groupby("region"):
        series = {r.period_start: float(r.sqls) for r in g.itertuples() if r.period_start in cd}
        days = sorted(series)
        flagged: set[date] = set()
        for i, d in enumerate(days):
            lo = bisect.bisect_left(days, d - lookback)
            base = [b for b in days[lo:i] if b not in flagged]
            if len(base) < cfg["min_baseline_days"]:
                continue
            # month-end lift and rate per collection day from the baseline days
            normal = [b for b in base if b not in month_end_days]
            end = [b for b in base if b in month_end_days]
            lam = sum(series[b] for b in normal) / max(1, sum(cd[b] for b in normal))
            if lam <= 0:
                continue
            lift = 1.0
            if end:
                e_end = lam * sum(cd[b] for b in end)
                lift = max(1.0, sum(series[b] for b in end) / e_end) if e_end > 0 else 1.0

            def expect(b: date, lam: float = lam, lift: float = lift) -> float:
                return lam * cd[b] * (lift if b in month_end_days else 1.0)

            resid = [(series[b] - expect(b)) ** 2 / expect(b) for b in base if expect(b) > 0]
            phi = max(1.0, sum(resid) / max(1, len(resid) - 2))
            x, mu = series[d], expect(d)
            if x < cfg["min_count"] or x < cfg["min_ratio"] * mu:
                continue
            p = quasi_poisson_sf(x, mu, phi)
            if p >= cfg["alpha_warn"]:
                continue
            flagged.add(d)
            holiday = _holiday_before(cal, d) if cd[d] > 3 else None
            out.append(
                Anomaly(
                    check_name="sql_day_spike",
                    metric="sqls",
                    period_grain="day",
                    period_start=d,
                    period_end=d,
                    region=str(region),
                    business_unit="ALL",
                    source="crm",
                    entity="leads",
                    observed=x,
                    expected=round(mu, 3),
                    score=score_of(p),
                    p_value=p,
                    severity=severity_for(p, cfg["alpha_error"]),
                    message=(
                        f"{region}: {int(x)} SQL conversions on {d} ({d:%a}), expected {mu:.1f} "
                        f"({cd[d]} collection day(s){' after ' + holiday if holiday else ''}"
                        f"{f', month-end lift {lift:.2f}' if d in month_end_days else ''}; "
                        f"dispersion {phi:.1f}); p={p:.1e}."
                    ),
                )
            )
    return out


def _holiday_before(cal: Calendar, d: date) -> str | None:
    for k in range(1, 15):
        name = cal.holiday_name(d - timedelta(days=k))
        if name:
            return name
    return None
