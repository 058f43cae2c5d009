"""``unknown_region_surge``: the share of new leads whose region could not be resolved jumps.

A lead's region comes from its CRM owner, its account or its province (the region rules
of ``int_lead_regions``); ``UNKNOWN`` means none of them mapped, usually a new province spelling or an owner
missing from the users export. Weekly, nationally: ``x`` UNKNOWN-region leads among the week's
``n`` new leads against the usual share ``p0`` of the ``baseline_weeks`` before it (flagged weeks
left out). Flagged when the share is at least ``min_ratio x p0`` and ``p0 + min_share_excess``, with
``min_unknown_leads``, and a one-sided binomial test gives p < ``alpha_warn``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from .core import Anomaly, binom_sf, fmt_pct, score_of, severity_for


def unknown_region_surge(flow_week: pd.DataFrame, as_of: date, cfg: dict[str, Any]) -> list[Anomaly]:
    """``flow_week``: weekly rows with business_unit = 'ALL' for every region incl. ALL/UNKNOWN."""
    total = {
        r.period_start: int(r.leads or 0)
        for r in flow_week[flow_week["region"] == "ALL"].itertuples()
        if r.period_start + timedelta(days=6) <= as_of
    }
    unknown = {
        r.period_start: int(r.leads or 0) for r in flow_week[flow_week["region"] == "UNKNOWN"].itertuples()
    }
    weeks = sorted(total)
    flagged: set[date] = set()
    out: list[Anomaly] = []
    for i, w in enumerate(weeks):
        base = [b for b in weeks[:i] if b not in flagged][-int(cfg["baseline_weeks"]) :]
        if len(base) < cfg["min_baseline_weeks"]:
            continue
        bn = sum(total[b] for b in base)
        if not bn or not total[w]:
            continue
        # a floor keeps a world with no UNKNOWN leads at all from testing against p0 = 0
        p0 = max(sum(unknown.get(b, 0) for b in base) / bn, 0.5 / bn)
        x, n = unknown.get(w, 0), total[w]
        share = x / n
        if (
            x < cfg["min_unknown_leads"]
            or share < cfg["min_ratio"] * p0
            or share < p0 + cfg["min_share_excess"]
        ):
            continue
        p = binom_sf(x, n, p0)
        if p >= cfg["alpha_warn"]:
            continue
        flagged.add(w)
        out.append(
            Anomaly(
                check_name="unknown_region_surge",
                metric="unknown_region_lead_share",
                period_grain="week",
                period_start=w,
                period_end=w + timedelta(days=6),
                region="UNKNOWN",
                observed=round(share, 6),
                expected=round(p0, 6),
                score=score_of(p),
                p_value=p,
                severity=severity_for(p, cfg["alpha_error"]),
                message=(
                    f"week of {w}: {x} of {n} new leads ({fmt_pct(share)}) have no resolvable region, "
                    f"usually {fmt_pct(p0)}; p={p:.1e}. Check the province mapping and the CRM users export."
                ),
            )
        )
    return out
