"""What every detector shares: the anomaly record, the config file, the business calendar, tests.

An anomaly is one row of ``dq.anomalies``. Detectors are pure functions of
DataFrames read from the build warehouse (and, for the export checks, the raw zone), so they can be
run and tested without Airflow; :mod:`l2c.quality.anomalies.run` reads the inputs and records the results.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from scipy import stats

SEVERITIES = ("info", "warn", "error")

#: columns of dq.anomalies, in order (run.py adds detected_at, export_date and run_id)
COLUMNS = (
    "check_name",
    "metric",
    "period_grain",
    "period_start",
    "period_end",
    "region",
    "business_unit",
    "source",
    "entity",
    "observed",
    "expected",
    "score",
    "p_value",
    "severity",
    "message",
)


@dataclass(frozen=True)
class Anomaly:
    check_name: str
    metric: str
    period_grain: str  # day | week | month
    period_start: date
    period_end: date
    observed: float
    expected: float
    #: -log10(p) for the statistical checks; the size of the gap (days, ratio) for the others
    score: float
    severity: str
    message: str
    region: str = "ALL"
    business_unit: str = "ALL"
    source: str = "ALL"
    entity: str = "ALL"
    p_value: float | None = None

    def key(self) -> tuple:
        return (
            self.check_name,
            self.metric,
            self.period_grain,
            self.period_start,
            self.region,
            self.business_unit,
            self.source,
            self.entity,
        )


def to_frame(anomalies: Iterable[Anomaly]) -> pd.DataFrame:
    rows = [asdict(a) for a in anomalies]
    return pd.DataFrame(rows, columns=list(COLUMNS)) if rows else pd.DataFrame(columns=list(COLUMNS))


# ------------------------------------------------------------------ configuration


def config_path() -> Path:
    """``L2C_ANOMALY_CONFIG``, else ``expectations/anomalies.yml`` of the project home."""
    from l2c.config import settings

    return settings().anomaly_config


def load_config(path: Path | None = None) -> dict[str, dict[str, Any]]:
    import yaml

    path = path or config_path()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"anomaly detector config {path} not found (set L2C_ANOMALY_CONFIG to its path)"
        ) from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping of check name -> settings")
    return doc


def severity_for(p: float, alpha_error: float) -> str:
    return "error" if p < alpha_error else "warn"


def score_of(p: float) -> float:
    return round(-math.log10(max(p, 1e-300)), 3)


# ------------------------------------------------------------------ one-sided tests (exact tails, scipy.stats)


def binom_sf(x: int, n: int, p: float) -> float:
    """P(X >= x) for X ~ Binomial(n, p)."""
    x, n = int(x), int(n)
    if x <= 0:
        return 1.0
    if x > n:
        return 0.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    return float(stats.binom.sf(x - 1, n, p))


def poisson_sf(x: float, mu: float) -> float:
    """P(X >= x) for X ~ Poisson(mu); ``x`` may be fractional (quasi-Poisson scaling): ceil."""
    k0 = math.ceil(x - 1e-9)
    if k0 <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    return float(stats.poisson.sf(k0 - 1, mu))


def quasi_poisson_sf(x: float, mu: float, dispersion: float) -> float:
    """Over-dispersed counts: a Poisson test on x/phi with mean mu/phi (phi >= 1)."""
    phi = max(1.0, float(dispersion))
    return poisson_sf(x / phi, mu / phi)


# ------------------------------------------------------------------ the business calendar


@dataclass
class Calendar:
    """``marts.dim_date`` as the detectors need it: working days, holidays, month-end windows."""

    days: pd.DataFrame  # date_day (date), is_workday (bool), holiday_name (str|None)
    _by_day: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        d = self.days.copy()
        d["date_day"] = pd.to_datetime(d["date_day"]).dt.date
        d = d.sort_values("date_day").reset_index(drop=True)
        d["is_workday"] = d["is_workday"].fillna(False).astype(bool)
        self.days = d
        self._by_day = {r.date_day: i for i, r in enumerate(d.itertuples())}

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Calendar:
        return cls(frame[["date_day", "is_workday", "holiday_name"]])

    @cached_property
    def workdays(self) -> set[date]:
        return set(self.days.loc[self.days["is_workday"], "date_day"])

    def is_workday(self, d: date) -> bool:
        return d in self.workdays

    def holiday_name(self, d: date) -> str | None:
        i = self._by_day.get(d)
        if i is None:
            return None
        name = self.days.at[i, "holiday_name"]
        return name if isinstance(name, str) and name else None

    @cached_property
    def collection_days(self) -> dict[date, int]:
        """Calendar days whose conversions a working day records: itself and the non-working days
        before it (a Monday collects the weekend, the first day after Spring Festival the holiday)."""
        out: dict[date, int] = {}
        gap = 0
        for r in self.days.itertuples():
            gap += 1
            if r.is_workday:
                out[r.date_day] = gap
                gap = 0
        return out

    def month_windows(self, n: int) -> dict[date, list[date]]:
        """month start -> its last ``n`` working days."""
        out: dict[date, list[date]] = {}
        for d in sorted(self.workdays):
            out.setdefault(d.replace(day=1), []).append(d)
        return {m: ds[-n:] for m, ds in out.items()}

    def working_days_in_month(self) -> dict[date, int]:
        out: dict[date, int] = {}
        for d in self.workdays:
            m = d.replace(day=1)
            out[m] = out.get(m, 0) + 1
        return out

    def long_holidays(self, min_days: int) -> list[tuple[date, date, str]]:
        """(first, last, name) of every run of >= ``min_days`` non-working days holding a holiday."""
        out = []
        run: list[date] = []
        names: list[str] = []

        def close() -> None:
            if len(run) >= min_days and names:
                name = max(set(names), key=names.count)
                out.append((run[0], run[-1], name))

        for r in self.days.itertuples():
            if r.is_workday:
                close()
                run, names = [], []
                continue
            run.append(r.date_day)
            if isinstance(r.holiday_name, str) and r.holiday_name:
                names.append(r.holiday_name)
        close()
        return out


def month_end(m: date) -> date:
    nxt = date(m.year + m.month // 12, m.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def fmt_pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"
