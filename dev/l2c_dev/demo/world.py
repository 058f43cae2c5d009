"""Simulation of the demo B2B world: leads, their journeys, the CRM, spend, anomalies.

The world is simulated once, vectorised with numpy, as *record event timelines*: for every record
of every entity the times at which a new version of it was written (``ev_key``/``ev_vt``), and a
``state(keys, times)`` function that returns the record's canonical column values as of a version
time. :mod:`l2c_dev.demo.exports` picks the versions each export file needs (the latest version as of
the full export date; the last version per local day for the deltas) and renders them.

Calibration (from the Chinese B2B marketing practice the rules come from), per MA lead, uncensored (measured on 200 000 leads,
mature cohort: lead->SQL 4.5 %, lead->order 2.5 %, lead->opportunity 84 days, 64 % / 19 % of won
deals > 90 / > 365 days, opportunity->order 18 days):

* lead -> MQL ~22 %; lead -> SQL ~4.5 % (seed 000: 4–5 % for good nurturers);
* lead -> opportunity ~4.5 %; opportunity -> order ~58 %, so lead -> order ~2.5 % (seed 003: 2.46 %);
* won deals: lead -> order > 90 days for 63 %, > 365 days for 20 % (seed 002), opportunity -> order
  ~18 days on average (seed 002); lost opportunities are mostly fast, so lead -> opportunity averages
  ~84 days over all opportunities (seed 002) — the win probability rises with nurture time;
* journeys end within ~480 days of lead creation, so cohorts older than 500 days are mature.

The CRM lead is created when MA hands an MQL over: ``assigned_at`` is within 48 hours of ``mql_at``
for ~70 % (working hours and weekends delay the rest; seed 003's 48-hour rule). Long journeys often
go MQL -> returned (CRM ``returned_at``) -> recycled (MA ``recycled_at``) -> re-engaged -> SQL.
About 0.4 % as many CRM leads as MA leads are created directly by sales (no MA lead). Conversions
(assignment, SQL, opportunity, close, payment) land on China working days (``chinese_calendar``).

Shapes every real CRM has (issue 13; in the clean world too, from their own random streams): order
instalments; ~1.5 % of people fill a form again later (a second MA lead, the same e-mail in other
case / with spaces, a quarter of them MQL again); ~1.5 % of CRM-assigned people are entered again by
another rep (a CRM lead with the mobile in another format, no e-mail, no ``ma_lead_id``); 8 % of
lost opportunities are followed by a second one and 5 % of won ones by an upsell; 30 % / 8 % of
customer accounts get a renewal / expansion deal with no CRM lead (account-level); 40 % of
multinational accounts contract in USD (opportunities, orders, payments); a few SQL'd leads without
an opportunity are returned and SQL'd again in the first 7 nightly deltas (the full export carries
only latest versions, so that is where the raw zone sees the history).

Injected anomalies (not with ``clean=True``; separate random streams, so the clean world is the
same world): ``month_end_sql_spike`` (SQLs of a region/BU cell due in the 28 days after a month end
recorded in its last 3 working days: the SDRs pull next month's conversions in to meet their count,
and convert borderline MQLs that had been left open: together at least half a usual month's SQLs), ``holiday_catchup_spike`` (SQLs due in the 2 weeks before the
week after Spring Festival — 2024: the week of 2024-02-05 — recorded in that week; their
opportunities follow). They only change when CRM *records* things: the MA side is identical.

Times are int64 *local* seconds (naive Asia/Shanghai wall time, see :mod:`l2c_dev.demo.calendar`);
``NEVER`` marks an event that does not happen.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import catalog as cat
from .workdays import DAY, HOUR, DayTable, day_number, to_date

NEVER = np.int64(2**62)
NA_INT = np.iinfo(np.int64).min
MIN = 60

# Funnel targets (uncensored, per MA lead, before channel mix weighting).
P_MQL = 0.22
P_SQL_ONLY = 0.002  # SQL without an opportunity
P_OPP_LOST = 0.0185
P_WON = 0.026
#: won-deal nurture segments: share, lead->order days (seed 002: 63 % > 3 months, 20 % > 12 months)
WON_SEGMENTS = (0.38, 0.42, 0.20)

#: SQL conversions pulled into the month's last 3 working days by the *natural* month-end push
NATURAL_MONTH_END_PULL = 0.2
#: injected month-end spike: SQLs due this many days after the month end are recorded before it
MONTH_END_PULL_DAYS = 28
#: ... and at least as many open MQLs, assigned within this many days before the window, are
#: converted too, so that the spike adds at least this share of the cell's usual monthly SQL count
BORDERLINE_MQL_AGE_DAYS = 90
MONTH_END_SPIKE_SHARE = 0.5

# Shapes every real CRM has (issue 13), small shares of the world:
#: people who fill a form a second time (same e-mail, other case / spaces, new MA lead)
DUPLICATE_FORM_SHARE = 0.018
#: ... of which so many become an MQL again (MA does not hand a known person over to CRM twice)
DUPLICATE_MQL_SHARE = 0.25
#: CRM-assigned people entered again later by another rep (same mobile, no ma_lead_id, no e-mail)
REENTRY_SHARE = 0.02
#: lost opportunities followed by a second one on the same lead; won ones followed by an upsell
SECOND_OPP_AFTER_LOST = 0.08
UPSELL_SHARE = 0.05
#: customer accounts with an account-level deal (no CRM lead): annual renewal, expansion
RENEWAL_SHARE = 0.3
EXPANSION_SHARE = 0.08
#: multinational accounts that contract in USD (opportunities, orders and payments), at ~this rate
USD_ACCOUNT_SHARE = 0.4
USD_CNY = 7.15
#: SQL'd leads without an opportunity that sales returns and accepts again within the deltas
#: (the full export holds only the latest version: the history is visible in the nightly deltas)
RESQL_SHARE = 0.4
RESQL_MAX = 8
#: ... within this many days after the full export (``make demo`` loads the first 7 deltas)
RESQL_WINDOW_DAYS = 7


@dataclass(frozen=True)
class Params:
    leads: int
    start: dt.date
    end: dt.date
    seed: int
    deltas: int
    clean: bool

    @property
    def full_export_date(self) -> dt.date:
        return self.end - dt.timedelta(days=self.deltas)


@dataclass
class EntityData:
    """Version timeline of one entity: every record's version times and a state function."""

    source: str
    name: str
    n: int
    ev_key: np.ndarray
    ev_vt: np.ndarray
    #: per record: time of the deletion version (NEVER = not deleted); None = entity has no deletes
    deleted_at: np.ndarray | None
    state: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
    #: per record: a stable string id, for labels
    ids: np.ndarray


@dataclass
class Label:
    anomaly_type: str
    period_grain: str
    period_start: dt.date
    period_end: dt.date
    region: str
    business_unit: str
    source: str
    entity: str
    details: dict


@dataclass
class World:
    params: Params
    days: DayTable
    entities: dict[tuple[str, str], EntityData] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)
    #: record-level dirt (kind, source, entity, key id, note) kept in the data on purpose
    dirty_records: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    campaigns: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


class Streams:
    """Independent, named random streams: adding draws to one never shifts another."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def __call__(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])


def trunc_exp(rng: np.random.Generator, lo: float, hi: float, scale: float, n: int) -> np.ndarray:
    u = rng.random(n)
    return lo - scale * np.log1p(-u * (1.0 - np.exp(-(hi - lo) / scale)))


def days_to_s(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x, dtype=np.float64) * DAY).astype(np.int64)


def ids(prefix: str, n: int, width: int, first: int = 1) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(first, first + n)], dtype=object)


def ts_if(t: np.ndarray, vt: np.ndarray) -> np.ndarray:
    """The timestamp t if it happened by vt, else null."""
    return np.where(t <= vt, t, NEVER)


def weighted_choice(rng: np.random.Generator, weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(n), side="right")


def last_status(times: list[np.ndarray], vt: np.ndarray) -> np.ndarray:
    """Index of the latest of several event columns that happened by vt (-1: none)."""
    m = np.stack([np.where(t <= vt, t, -1) for t in times], axis=1)
    best = np.argmax(m, axis=1)
    none = m[np.arange(len(vt)), best] < 0
    return np.where(none, -1, best)


def month_last_working_days(days: DayTable, year: int, month: int, k: int = 3) -> list[dt.date]:
    first = dt.date(year, month, 1)
    last = (dt.date(year + month // 12, month % 12 + 1, 1)) - dt.timedelta(days=1)
    return days.working_days_in(first, last)[-k:]


# ----------------------------------------------------------------------------------------------
# the simulation
# ----------------------------------------------------------------------------------------------


class Simulator:
    def __init__(self, params: Params, progress: Callable[[str], None] | None = None):
        if params.leads < 100:
            raise ValueError("leads must be >= 100")
        if params.end < params.start + dt.timedelta(days=60):
            raise ValueError("the simulated period (start..end) must cover at least 60 days")
        if params.deltas < 0 or params.full_export_date < params.start:
            raise ValueError("deltas must be >= 0 and the full export date (end - deltas) >= start")
        self.p = params
        self.progress = progress or (lambda _msg: None)
        self.rs = Streams(params.seed)
        self.days = DayTable(params.start - dt.timedelta(days=400), params.end + dt.timedelta(days=900))
        self.t_start = day_number(params.start) * DAY
        self.t_end = (day_number(params.end) + 1) * DAY - 1  # last second of the last export day
        self.world = World(params=params, days=self.days)
        self.regions = [r.code for r in cat.REGIONS]
        self.bus = [b.code for b in cat.BUSINESS_UNITS]

    # -- public ------------------------------------------------------------------------------
    def run(self) -> World:
        self.progress(f"simulating {self.p.leads} leads {self.p.start}..{self.p.end}")
        self._companies()
        self._leads()
        self._events_catalog()
        self._lead_channels()
        self._journeys()
        self._users()
        self._owners()
        self._duplicate_form_fills()
        self._adjust_sql_times()
        self._crm_direct_leads()
        self._accounts()
        self._opportunities_orders_payments()
        self._activities()
        self._spend()
        self._build_entities()
        return self.world

    # -- companies and people -------------------------------------------------------------------
    def _companies(self) -> None:
        rng = self.rs("companies")
        n_direct = max(3, round(self.p.leads * 0.004))
        n = int(self.p.leads * 0.75) + n_direct + 50
        provs = list(cat.PROVINCES)
        pw = np.array([cat.PROVINCES[p][0] for p in provs])
        prov = weighted_choice(rng, pw, n)
        city_lists = [cat.PROVINCES[p][1] for p in provs]
        city_pick = (rng.random(n) * np.array([len(city_lists[i]) for i in prov])).astype(int)
        inds = list(cat.INDUSTRIES)
        iw = np.array([cat.INDUSTRIES[i][0] for i in inds])
        ind = weighted_choice(rng, iw, n)
        biz_lists = [cat.INDUSTRIES[i][1] for i in inds]
        biz_pick = (rng.random(n) * np.array([len(biz_lists[i]) for i in ind])).astype(int)
        nb = len(cat.BRAND_CHARS)
        b1 = rng.integers(0, nb, n)
        b2 = (b1 + rng.integers(1, nb, n)) % nb
        suf = weighted_choice(rng, [6, 3, 1], n)
        size = weighted_choice(rng, [s[1] for s in cat.COMPANY_SIZES], n)
        multinational = rng.random(n) < np.where(size >= 4, 0.3, np.where(size >= 3, 0.12, 0.03))
        names = []
        seen = set()
        domains = []
        for i in range(n):
            city_zh, _city_py = city_lists[prov[i]][city_pick[i]]
            biz_zh, biz_py = biz_lists[ind[i]][biz_pick[i]]
            while True:
                brand = cat.BRAND_CHARS[b1[i]][0] + cat.BRAND_CHARS[b2[i]][0]
                name = f"{city_zh}{brand}{biz_zh}{cat.COMPANY_SUFFIXES[suf[i]]}"
                if name not in seen:
                    break
                b2[i] = (b2[i] + 1) % nb
                if b2[i] == b1[i]:
                    b1[i] = (b1[i] + 1) % nb
            seen.add(name)
            names.append(name)
            brand_py = cat.BRAND_CHARS[b1[i]][1] + cat.BRAND_CHARS[b2[i]][1]
            tld = (".com", ".com.cn", ".cn")[(b1[i] + b2[i]) % 3]
            domains.append(f"{brand_py}{biz_py}{tld}")
        self.co_name = np.array(names, dtype=object)
        self.co_domain = np.array(domains, dtype=object)
        self.co_prov = prov
        self.co_city = np.array([city_lists[prov[i]][city_pick[i]][0] for i in range(n)], dtype=object)
        self.co_ind = ind
        self.co_size = size
        self.co_multi = multinational
        p2r = cat.province_to_region()
        self.prov_names = provs
        self.prov_region = np.array([self.regions.index(p2r[p]) for p in provs])
        ind_bu = {i: b for b, bu in enumerate(cat.BUSINESS_UNITS) for i in bu.industries}
        self.ind_names = inds
        self.ind_bu = np.array([ind_bu[i] for i in inds])
        # MA leads draw from the first part of the pool (heavy-tailed), direct CRM leads from the rest
        self.n_direct = n_direct
        self.n_co_ma = n - n_direct

    def _people(self, rng: np.random.Generator, n: int, company: np.ndarray):
        sur = rng.integers(0, len(cat.SURNAMES), n)
        giv = rng.integers(0, len(cat.GIVEN_NAMES), n)
        style = weighted_choice(rng, [0.42, 0.33, 0.25], n)  # corporate, qq, other free mail
        qq = rng.integers(100_000, 3_999_999_999, n)
        free = rng.integers(0, len(cat.FREE_MAIL_DOMAINS), n)
        digits = rng.integers(1, 999, n)
        emails = []
        for i in range(n):
            s_py = cat.SURNAMES[sur[i]][1]
            g_py = cat.GIVEN_NAMES[giv[i]][1]
            if style[i] == 0:
                local = f"{g_py}.{s_py}" if digits[i] % 2 else f"{s_py}{g_py}"
                emails.append(f"{local}@{self.co_domain[company[i]]}")
            elif style[i] == 1:
                emails.append(f"{qq[i]}@qq.com")
            else:
                emails.append(f"{s_py}{g_py}{digits[i]}@{cat.FREE_MAIL_DOMAINS[free[i]]}")
        emails = np.array(emails, dtype=object)
        # make emails unique (identity resolution relies on them)
        seen: dict[str, int] = {}
        for i in range(n):
            e = emails[i]
            if e in seen:
                k = seen[e] + 1
                local, dom = e.split("@")
                while f"{local}{k}@{dom}" in seen:
                    k += 1
                seen[e] = k
                e = f"{local}{k}@{dom}"
                emails[i] = e
            seen[e] = seen.get(e, 1)
        prefixes = np.array(
            [
                130,
                131,
                132,
                133,
                135,
                136,
                137,
                138,
                139,
                150,
                151,
                152,
                155,
                157,
                158,
                159,
                166,
                176,
                177,
                180,
                181,
                183,
                185,
                186,
                187,
                188,
                189,
                191,
                198,
                199,
            ]
        )
        phones = prefixes[rng.integers(0, len(prefixes), n)].astype(np.int64) * 100_000_000 + rng.integers(
            0, 100_000_000, n
        )
        for _ in range(10):
            _, first_idx = np.unique(phones, return_index=True)
            dup = np.ones(n, dtype=bool)
            dup[first_idx] = False
            if not dup.any():
                break
            phones[dup] = phones[dup] + rng.integers(1, 1000, int(dup.sum()))
        names = np.array(
            [cat.SURNAMES[a][0] + cat.GIVEN_NAMES[b][0] for a, b in zip(sur, giv, strict=True)], dtype=object
        )
        return emails, phones.astype(str).astype(object), names

    # -- MA leads: creation and attributes ---------------------------------------------------------
    def _leads(self) -> None:
        rng = self.rs("leads")
        N = self.p.leads
        d0, d1 = day_number(self.p.start), day_number(self.p.end)
        span = d1 - d0 + 1
        day_idx = self.days.index(np.arange(d0, d1 + 1))
        growth = 1.0 + 0.25 * np.arange(span) / max(1, span - 1)
        wk = np.where(self.days.workday[day_idx], 1.0, 0.3)
        wk = np.where(self.days.spring_festival[day_idx], 0.12, wk)
        self.intensity = growth * wk  # per day of the window
        counts = rng.multinomial(N, self.intensity / self.intensity.sum())
        lead_day = np.repeat(np.arange(d0, d1 + 1), counts)
        business = rng.random(N) < 0.8
        sec = np.where(business, rng.integers(9 * HOUR, 19 * HOUR, N), rng.integers(7 * HOUR, 24 * HOUR, N))
        self.created = lead_day * DAY + sec
        # company and person
        w = rng.pareto(1.6, self.n_co_ma) + 1.0
        self.company = weighted_choice(rng, w, N)
        unknown = rng.random(N) < cat.UNKNOWN_PROVINCE_SHARE
        self.unknown_prov = unknown
        self.prov = np.where(unknown, -1, self.co_prov[self.company])
        self.region = np.where(unknown, -1, self.prov_region[np.maximum(self.co_prov[self.company], 0)])
        self.industry = self.co_ind[self.company]
        self.bu = self.ind_bu[self.industry]
        self.title = weighted_choice(rng, [t[1] for t in cat.JOB_TITLES], N)

    def _events_catalog(self) -> None:
        """Offline events, live streams and campaigns (drive lead creation dates, activities, spend)."""
        rng = self.rs("campaigns")
        d0, d1 = day_number(self.p.start), day_number(self.p.end)
        nxt = self.days.next_workday
        camps: list[dict] = []

        def add(code, channel, region="", bu="", days=(), kind="always", weight=1.0):
            camps.append(
                {
                    "code": code,
                    "channel": channel,
                    "region": region,
                    "business_unit": bu,
                    "days": list(days),
                    "kind": kind,
                    "weight": weight,
                }
            )

        # always-on online campaigns
        add("bd_brand", "baidu_sem", weight=0.3)
        add("bd_crm_core", "baidu_sem", weight=0.5)
        add("bd_competitor", "baidu_sem", weight=0.2)
        for b in self.bus:
            add(f"bd_{b.lower()}", "baidu_sem", bu=b)
        for r in self.regions:
            add(f"bd_region_{r.lower()}", "baidu_sem", region=r)
        add("edm_nurture", "edm")
        for b in self.bus:
            add(f"abm_{b.lower()}", "abm", bu=b)
        # quarterly wechat ads
        y, q = self.p.start.year, (self.p.start.month - 1) // 3
        while dt.date(y, 3 * q + 1, 1) <= self.p.end:
            qs = dt.date(y, 3 * q + 1, 1)
            qe = dt.date(y + (q == 3), (3 * q + 3) % 12 + 1, 1) - dt.timedelta(days=1)
            add(
                f"wx_ads_{y}q{q + 1}",
                "wechat",
                days=range(max(d0, day_number(qs)), min(d1, day_number(qe)) + 1),
                kind="period",
            )
            q += 1
            if q == 4:
                y, q = y + 1, 0
        # weekly live streams (Thursday, or the next working day), topic rotating through BUs
        k = 0
        day = d0 + (3 - self.p.start.weekday()) % 7
        while day <= d1:
            wd = int(nxt[self.days.index(np.array([day]))][0] + self.days.day0)
            if wd <= d1:
                add(
                    f"live_{to_date(wd):%Y%m%d}",
                    "live_stream",
                    bu=self.bus[k % len(self.bus)],
                    days=[wd],
                    kind="event",
                )
            day += 7
            k += 1
        # trade shows: every region about every 8 weeks, 2 days
        for ri, r in enumerate(self.regions):
            day = d0 + int(rng.integers(5, 50)) + ri
            while day <= d1:
                wd = int(nxt[self.days.index(np.array([day]))][0] + self.days.day0)
                ev = [wd, int(nxt[self.days.index(np.array([wd + 1]))][0] + self.days.day0)]
                ev = [x for x in ev if x <= d1]
                if ev:
                    add(
                        f"expo_{r.lower()}_{to_date(wd):%Y%m%d}",
                        "trade_show",
                        region=r,
                        days=ev,
                        kind="event",
                    )
                day += int(rng.integers(49, 63))
        # seminars: every region x BU about every 10 weeks
        for ri, r in enumerate(self.regions):
            for bi, b in enumerate(self.bus):
                day = d0 + int(rng.integers(3, 70)) + ri + bi
                while day <= d1:
                    wd = int(nxt[self.days.index(np.array([day]))][0] + self.days.day0)
                    if wd <= d1:
                        add(
                            f"sem_{r.lower()}_{b.lower()}_{to_date(wd):%Y%m%d}",
                            "seminar",
                            region=r,
                            bu=b,
                            days=[wd],
                            kind="event",
                        )
                    day += int(rng.integers(63, 84))
        # monthly call lists per region (bought on the first working day of the month)
        y, m = self.p.start.year, self.p.start.month
        while dt.date(y, m, 1) <= self.p.end:
            wd = int(nxt[self.days.index(np.array([day_number(dt.date(y, m, 1))]))][0] + self.days.day0)
            for r in self.regions:
                if d0 <= wd <= d1:
                    add(f"call_{r.lower()}_{y}{m:02d}", "cold_call", region=r, days=[wd], kind="event")
            m += 1
            if m == 13:
                y, m = y + 1, 1
        add("ref_program", "referral")
        for topic in ("crm_guide", "sales_mgmt", "scrm", "digital_mkt", "case_study", "saas_compare"):
            add(f"zh_{topic}", "zhihu")
        for i, c in enumerate(camps):
            c["campaign_id"] = f"CMP{i + 1:05d}"
        self.camps = camps
        self.camp_index = {c["code"]: i for i, c in enumerate(camps)}

    def _lead_channels(self) -> None:
        rng = self.rs("channels")
        N = self.p.leads
        chans = [c for c in cat.CHANNELS if c.share > 0]
        self.chan_codes = [c.code for c in cat.CHANNELS]
        ch_local = weighted_choice(rng, [c.share for c in chans], N)
        ch = np.array([self.chan_codes.index(chans[i].code) for i in ch_local])
        camp = np.full(N, -1)
        created = self.created.copy()
        region_known = self.region >= 0
        # event channels: re-date the lead to an event of its region (any region if unknown)
        for code in ("trade_show", "seminar", "live_stream", "cold_call"):
            ci = self.chan_codes.index(code)
            sel = np.flatnonzero(ch == ci)
            evs = [i for i, c in enumerate(self.camps) if c["channel"] == code]
            if not len(sel) or not evs:
                ch[sel] = self.chan_codes.index("baidu_sem")
                continue
            ev_region = np.array(
                [self.regions.index(self.camps[i]["region"]) if self.camps[i]["region"] else -1 for i in evs]
            )
            ev_bu = np.array(
                [
                    self.bus.index(self.camps[i]["business_unit"]) if self.camps[i]["business_unit"] else -1
                    for i in evs
                ]
            )
            ev_day = np.array([self.camps[i]["days"][0] for i in evs])
            # choose an event: same region (and BU for seminars) when possible, else any
            u = rng.random(len(sel))
            choice = np.empty(len(sel), dtype=np.int64)
            for g_region in range(-1, len(self.regions)):
                for g_bu in range(-1, len(self.bus)):
                    m = (np.where(region_known[sel], self.region[sel], -1) == g_region) & (
                        self.bu[sel] == g_bu if code == "seminar" else g_bu == -1
                    )
                    if not m.any():
                        continue
                    ok = np.ones(len(evs), dtype=bool)
                    if g_region >= 0 and (ev_region >= 0).any():
                        ok &= ev_region == g_region
                    if code == "seminar" and g_bu >= 0:
                        ok &= ev_bu == g_bu
                    cand = np.flatnonzero(ok) if ok.any() else np.arange(len(evs))
                    choice[m] = cand[(u[m] * len(cand)).astype(int)]
            lag = np.where(rng.random(len(sel)) < 0.65, 0, rng.integers(1, 8, len(sel)))
            if code == "cold_call":
                lag = rng.integers(0, 28, len(sel))
            nd = ev_day[choice] + lag
            sec = rng.integers(9 * HOUR, 19 * HOUR, len(sel))
            if code == "live_stream":
                sec = np.where(lag == 0, rng.integers(19 * HOUR, 21 * HOUR, len(sel)), sec)
            new_t = nd * DAY + sec
            new_t = np.minimum(new_t, self.t_end - rng.integers(0, 6 * HOUR, len(sel)))
            created[sel] = np.maximum(new_t, self.t_start)
            camp[sel] = np.array(evs)[choice]
        # always-on campaigns
        for code in ("baidu_sem", "wechat", "abm", "referral", "zhihu"):
            ci = self.chan_codes.index(code)
            sel = np.flatnonzero(ch == ci)
            if not len(sel):
                continue
            if code == "baidu_sem":
                u = rng.random(len(sel))
                national = [self.camp_index[c] for c in ("bd_brand", "bd_crm_core", "bd_competitor")]
                nat = np.array(national)[weighted_choice(rng, [0.3, 0.5, 0.2], len(sel))]
                bu_c = np.array([self.camp_index[f"bd_{b.lower()}"] for b in self.bus])[self.bu[sel]]
                reg_c = np.array([self.camp_index[f"bd_region_{r.lower()}"] for r in self.regions])[
                    np.maximum(self.region[sel], 0)
                ]
                c = np.where(
                    u < 0.55, nat, np.where(u < 0.8, bu_c, np.where(self.region[sel] >= 0, reg_c, nat))
                )
            elif code == "wechat":
                wx = [i for i, c in enumerate(self.camps) if c["channel"] == "wechat"]
                starts = np.array([self.camps[i]["days"][0] for i in wx])
                k = np.clip(np.searchsorted(starts, created[sel] // DAY, side="right") - 1, 0, len(wx) - 1)
                c = np.array(wx)[k]
            elif code == "abm":
                c = np.array([self.camp_index[f"abm_{b.lower()}"] for b in self.bus])[self.bu[sel]]
            elif code == "referral":
                c = np.full(len(sel), self.camp_index["ref_program"])
            else:
                zh = [i for i, c in enumerate(self.camps) if c["channel"] == "zhihu"]
                c = np.array(zh)[rng.integers(0, len(zh), len(sel))]
            camp[sel] = c
        # sort leads by creation time -> stable ids
        order = np.argsort(created, kind="stable")
        self.created = created[order]
        for name in ("company", "unknown_prov", "prov", "region", "industry", "bu", "title"):
            setattr(self, name, getattr(self, name)[order])
        self.channel = ch[order]
        self.campaign = camp[order]
        N = self.p.leads
        self.lead_ids = ids("L", N, 8)
        rng2 = self.rs("people")
        self.email, self.phone, self.person = self._people(rng2, N, self.company)
        has_email = rng2.random(N) < 0.88
        has_phone = rng2.random(N) < 0.93
        has_phone |= ~has_email
        self.email = np.where(has_email, self.email, "")
        self.phone = np.where(has_phone, self.phone, "")
        # propensity (channel x seniority x size), normalised to mean 1
        prop = np.array([c.propensity for c in cat.CHANNELS])[self.channel]
        title_pts = np.array([t[2] for t in cat.JOB_TITLES])[self.title]
        prop = prop * (1.0 + title_pts / 30.0) * (0.8 + 0.1 * self.co_size[self.company])
        prop = np.where(title_pts < 0, 0.05, prop)
        self.prop = prop / prop.mean()

    # -- journeys ---------------------------------------------------------------------------
    def _journeys(self) -> None:
        rng = self.rs("journeys")
        N = self.p.leads
        prop = np.minimum(self.prop, 4.0)
        mild = np.sqrt(self.prop)
        mild = mild / mild.mean()
        p_won = P_WON * prop
        p_lost = P_OPP_LOST * prop
        p_sqlo = P_SQL_ONLY * prop
        p_mql = np.maximum(P_MQL * mild, p_won + p_lost + p_sqlo + 0.01)
        u = rng.random(N)
        stage = np.zeros(N, dtype=np.int8)
        stage[u < p_mql] = 1
        stage[u < p_won + p_lost + p_sqlo] = 2
        stage[u < p_won + p_lost] = 3
        stage[u < p_won] = 4
        self.stage = stage
        c = self.created
        NEVER_ = NEVER
        t_mql = np.full(N, NEVER_)
        t_sql = np.full(N, NEVER_)
        t_opp = np.full(N, NEVER_)
        t_close = np.full(N, NEVER_)
        t_ret = np.full(N, NEVER_)
        t_rec = np.full(N, NEVER_)
        t_reeng = np.full(N, NEVER_)
        seg = np.full(N, -1, dtype=np.int8)

        # won: lead->order T, opp->order E, lead->opp D = T - E  (days)
        won = np.flatnonzero(stage == 4)
        nw = len(won)
        s = weighted_choice(rng, WON_SEGMENTS, nw)
        T = np.where(
            s == 0,
            2.0 + 86.0 * rng.beta(1.3, 2.2, nw),
            np.where(s == 1, trunc_exp(rng, 91.0, 365.0, 35.0, nw), trunc_exp(rng, 366.0, 480.0, 30.0, nw)),
        )
        E = np.clip(rng.gamma(2.2, 21.0 / 2.2, nw), 2.0, 75.0)
        E = np.minimum(E, 0.55 * T)
        D_won = T - E
        seg[won] = s
        # lost: mostly quick (unqualified opportunities die young)
        lost = np.flatnonzero(stage == 3)
        nl = len(lost)
        D_lost = np.clip(rng.lognormal(np.log(12.0), 1.0, nl), 0.3, 300.0)
        L = np.clip(rng.lognormal(np.log(30.0), 0.7, nl), 3.0, 200.0)
        opp = np.concatenate([won, lost])
        D = np.concatenate([D_won, D_lost])
        close_after = np.concatenate([E, L])
        g = np.minimum(rng.gamma(1.5, 7.0, len(opp)), 0.5 * D)
        sql_d = D - g
        # MQL: recycle path for long journeys (MQL early, returned, re-engaged), else MQL -> SQL lag
        recycle = (sql_d > 150) & (rng.random(len(opp)) < 0.6)
        lag = rng.gamma(1.3, 12.0, len(opp))
        mql_d = np.where(sql_d - lag > 0.01, sql_d - lag, sql_d * rng.uniform(0.02, 0.6, len(opp)))
        early = np.minimum(
            np.minimum(np.clip(rng.lognormal(np.log(8.0), 1.0, len(opp)), 0.01, None), sql_d / 4), 60.0
        )
        mql_d = np.where(recycle, early, mql_d)
        ret_d = np.where(recycle, np.minimum(early + rng.uniform(15, 75, len(opp)), sql_d - 25), np.nan)
        rec_d = ret_d + rng.uniform(0.01, 1.5, len(opp))
        reeng_d = sql_d - rng.uniform(4, 20, len(opp))
        reeng_d = np.where(recycle, np.maximum(reeng_d, rec_d + 1.0), np.nan)
        t_mql[opp] = c[opp] + days_to_s(mql_d)
        t_sql[opp] = c[opp] + days_to_s(sql_d)
        t_opp[opp] = c[opp] + days_to_s(D)
        self.close_after = np.zeros(N)
        self.close_after[opp] = close_after
        r_idx = opp[recycle]
        t_ret[r_idx] = c[r_idx] + days_to_s(ret_d[recycle])
        t_rec[r_idx] = c[r_idx] + days_to_s(rec_d[recycle])
        t_reeng[r_idx] = c[r_idx] + days_to_s(reeng_d[recycle])

        def mql_time(k):
            fast = rng.random(k) < 0.45
            return np.where(
                fast, rng.exponential(0.3, k), np.clip(rng.lognormal(np.log(20.0), 1.1, k), 0.05, 500)
            )

        # SQL without opportunity
        so = np.flatnonzero(stage == 2)
        m = mql_time(len(so))
        t_mql[so] = c[so] + days_to_s(m)
        t_sql[so] = t_mql[so] + days_to_s(np.clip(rng.gamma(1.2, 15.0, len(so)), 0.1, 300))
        # MQL only: returned to marketing / disqualified / stale
        mo = np.flatnonzero(stage == 1)
        m = mql_time(len(mo))
        t_mql[mo] = c[mo] + days_to_s(m)
        outcome = rng.random(len(mo))
        ret = outcome < 0.40
        t_ret[mo[ret]] = t_mql[mo[ret]] + days_to_s(rng.uniform(10, 90, int(ret.sum())))
        t_rec[mo[ret]] = t_ret[mo[ret]] + days_to_s(rng.uniform(0.01, 1.5, int(ret.sum())))
        re = ret & (rng.random(len(mo)) < 0.30)
        t_reeng[mo[re]] = t_rec[mo[re]] + days_to_s(rng.uniform(20, 250, int(re.sum())))
        self.crm_dq_flag = np.zeros(N, dtype=bool)
        self.crm_dq_flag[mo[(outcome >= 0.40) & (outcome < 0.65)]] = True

        # MA-only statuses
        t_nurt = c + days_to_s(rng.exponential(1.5, N))
        t_nurt = np.where(t_nurt < t_mql, t_nurt, NEVER_)
        t_dq = np.full(N, NEVER_)
        z = np.flatnonzero(stage == 0)
        dq = z[rng.random(len(z)) < 0.12]
        t_dq[dq] = c[dq] + days_to_s(np.clip(rng.lognormal(np.log(10.0), 1.0, len(dq)), 0.05, 400))
        t_del = np.full(N, NEVER_)
        rest = np.setdiff1d(z, dq)
        de = rest[rng.random(len(rest)) < 0.006]
        t_del[de] = c[de] + days_to_s(rng.uniform(1, 300, len(de)))
        t_nurt = np.where(t_nurt < np.minimum(t_dq, t_del), t_nurt, NEVER_)

        # CRM handover at MQL: SDR assignment mostly within 48 h (seed 003)
        hasm = t_mql < NEVER_
        h = np.where(rng.random(N) < 0.9, rng.uniform(0.3, 24, N) * HOUR, rng.uniform(2, 12, N) * DAY)
        t_assign = np.where(hasm, self.days.to_business_time(t_mql + h.astype(np.int64), rng), NEVER_)
        # working: SDR starts on it
        t_work = np.where(
            hasm, self.days.to_business_time(t_assign + days_to_s(rng.uniform(0.05, 3, N)), rng), NEVER_
        )
        # returned (CRM) on a working day; MA recycles after it
        t_ret = np.where(
            t_ret < NEVER_, self.days.to_business_time(np.maximum(t_ret, t_assign + HOUR), rng), NEVER_
        )
        t_rec = np.where(t_ret < NEVER_, np.maximum(t_rec, t_ret + 10 * MIN), NEVER_)
        t_reeng = np.where(t_reeng < NEVER_, np.maximum(t_reeng, t_rec + HOUR), NEVER_)
        t_rework = np.where(
            t_reeng < NEVER_,
            self.days.to_business_time(t_reeng + days_to_s(rng.uniform(0.05, 2, N)), rng),
            NEVER_,
        )
        # SQL, opportunity, close on working days, in order
        floor = np.maximum(t_assign + HOUR, np.where(t_rework < NEVER_, t_rework + HOUR, 0))
        t_sql = np.where(t_sql < NEVER_, self.days.to_business_time(np.maximum(t_sql, floor), rng), NEVER_)
        t_opp = np.where(
            t_opp < NEVER_, self.days.to_business_time(np.maximum(t_opp, t_sql + 10 * MIN), rng), NEVER_
        )
        t_close = np.where(t_opp < NEVER_, t_opp + days_to_s(self.close_after), NEVER_)
        t_close = np.where(
            t_opp < NEVER_, self.days.to_business_time(np.maximum(t_close, t_opp + HOUR), rng), NEVER_
        )
        # CRM disqualification of stale MQLs
        t_cdq = np.where(
            self.crm_dq_flag,
            self.days.to_business_time(t_assign + days_to_s(rng.uniform(2, 45, N)), rng),
            NEVER_,
        )
        t_work = np.where(t_work < np.minimum.reduce([t_ret, t_sql, t_cdq]), t_work, NEVER_)
        t_ma_dq = np.where(t_cdq < NEVER_, t_cdq + days_to_s(rng.uniform(0.01, 2, N)), t_dq)
        self.t = {
            "mql": t_mql,
            "sql": t_sql,
            "opp": t_opp,
            "close": t_close,
            "ret": t_ret,
            "rec": t_rec,
            "reeng": t_reeng,
            "rework": t_rework,
            "nurt": t_nurt,
            "ma_dq": t_ma_dq,
            "crm_dq": t_cdq,
            "deleted": t_del,
            "assign": t_assign,
            "work": t_work,
        }
        self.seg = seg
        self.won = stage == 4

    # -- CRM users and owners ----------------------------------------------------------------------
    def _users(self) -> None:
        rng = self.rs("users")
        nr, nb = len(self.regions), len(self.bus)
        # cell weight = expected MQL share of the (region, BU) cell
        reg = np.where(self.region >= 0, self.region, 1)
        cell = reg * nb + self.bu
        w = np.bincount(cell, minlength=nr * nb) / len(cell)
        slots = []  # (role, region, bu, cell)
        for ci in range(nr * nb):
            r, b = divmod(ci, nb)
            n_sdr = 1 + int(w[ci] > 0.05)
            n_sales = int(np.clip(2 + round(w[ci] * 30), 2, 6))
            slots += [("sdr", r, b)] * n_sdr + [("sales", r, b)] * n_sales
        for r in range(nr):
            slots.append(("director", r, -1))
        ns = len(slots)
        self.slot_role = np.array([s[0] for s in slots], dtype=object)
        self.slot_region = np.array([s[1] for s in slots])
        self.slot_bu = np.array([s[2] for s in slots])
        # turnover: the slot's first user leaves at X, a successor starts the same day
        change = rng.random(ns) < 0.3
        xday = rng.integers(day_number(self.p.start) + 30, day_number(self.p.end) + 365, ns)
        x = np.where(change, self.days.to_business_time(xday * DAY + 10 * HOUR, rng), NEVER)
        hire0 = (day_number(self.p.start) - rng.integers(30, 1500, ns)) * DAY + 10 * HOUR
        self.slot_switch = x
        n_users = ns + int(change.sum())
        # user ids: initial users in slot order, successors by switch time
        first_uid = np.arange(ns)
        succ_slots = np.flatnonzero(change)
        succ_order = succ_slots[np.argsort(x[succ_slots], kind="stable")]
        second_uid = np.full(ns, -1)
        second_uid[succ_order] = ns + np.arange(len(succ_order))
        self.slot_u1, self.slot_u2 = first_uid, second_uid
        u_slot = np.concatenate([np.arange(ns), succ_order])
        u_hire = np.concatenate([hire0, x[succ_order]])
        u_leave = np.concatenate([x, np.full(len(succ_order), NEVER)])
        _emails, _, names = self._people(rng, n_users, np.zeros(n_users, dtype=int))
        self.users = {
            "ids": ids("U", n_users, 5),
            "slot": u_slot,
            "hire": u_hire,
            "leave": u_leave,
            "name": names,
        }
        # per cell slot lists
        self.cell_sdr = [
            np.flatnonzero((self.slot_role == "sdr") & (self.slot_region * nb + self.slot_bu == ci))
            for ci in range(nr * nb)
        ]
        self.cell_sales = [
            np.flatnonzero((self.slot_role == "sales") & (self.slot_region * nb + self.slot_bu == ci))
            for ci in range(nr * nb)
        ]

    def _user_at(self, slot: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.where(t < self.slot_switch[slot], self.slot_u1[slot], self.slot_u2[slot])

    def _pick_slot(self, rng, cells: np.ndarray, table: list[np.ndarray]) -> np.ndarray:
        u = rng.random(len(cells))
        out = np.empty(len(cells), dtype=np.int64)
        for ci in np.unique(cells):
            m = cells == ci
            s = table[ci]
            out[m] = s[(u[m] * len(s)).astype(int)]
        return out

    def _owners(self) -> None:
        rng = self.rs("owners")
        nb = len(self.bus)
        N = self.p.leads
        # leads with unknown province get a branch by round robin weighted to big regions
        fallback = weighted_choice(rng, [3, 3, 2, 1, 1, 0.5], N)
        self.owner_region = np.where(self.region >= 0, self.region, fallback)
        self.cell = self.owner_region * nb + self.bu
        self.sdr_slot = self._pick_slot(rng, self.cell, self.cell_sdr)
        self.sales_slot = self._pick_slot(rng, self.cell, self.cell_sales)

    # -- duplicate form fills: the same person, a second MA lead ----------------------------------
    def _duplicate_form_fills(self) -> None:
        """A second MA lead for ~DUPLICATE_FORM_SHARE of people: a later form fill with the same
        e-mail typed in another case / with spaces (MA keys leads by the typed string), a new
        lead id (after the original ones), its own channel; some become an MQL again, never handed
        over to CRM a second time. Appended to every per-lead array after the owners are known."""
        rng = self.rs("duplicate_form_fills")
        N = len(self.created)
        gap = np.clip(rng.lognormal(np.log(45.0), 0.9, N), 1.0, 400.0)
        t_new = self.created + days_to_s(gap)
        t_new = (t_new // DAY) * DAY + rng.integers(8 * HOUR, 22 * HOUR, N)
        ok = (self.email != "") & (t_new <= self.t_end) & (self.t["deleted"] == NEVER)
        pick = np.flatnonzero(ok & (rng.random(N) < DUPLICATE_FORM_SHARE))
        pick = pick[np.argsort(t_new[pick], kind="stable")]
        n = len(pick)
        self.dup_of = pick
        if n == 0:
            return
        created = t_new[pick]
        # the e-mail as typed this time: other case, surrounding spaces
        style = rng.integers(0, 4, n)
        emails = []
        for e, st in zip(self.email[pick], style, strict=True):
            local, _, dom = e.partition("@")
            emails.append(
                (e.upper(), f" {e} ", f"{local.capitalize()}@{dom}", f"{local.title()}@{dom.upper()} ")[st]
            )
        # a new form: an inbound online channel (or a WeChat ad)
        codes = ("baidu_sem", "seo", "zhihu", "wechat", "direct")
        ch = np.array([self.chan_codes.index(c) for c in codes])[
            weighted_choice(rng, [0.45, 0.33, 0.07, 0.07, 0.08], n)
        ]
        camp = np.full(n, -1)
        bd = ch == self.chan_codes.index("baidu_sem")
        camp[bd] = np.array([self.camp_index[c] for c in ("bd_brand", "bd_crm_core", "bd_competitor")])[
            weighted_choice(rng, [0.3, 0.5, 0.2], int(bd.sum()))
        ]
        wx_c = [i for i, c in enumerate(self.camps) if c["channel"] == "wechat"]
        wx = ch == self.chan_codes.index("wechat")
        if wx_c:
            starts = np.array([self.camps[i]["days"][0] for i in wx_c])
            k = np.clip(np.searchsorted(starts, created[wx] // DAY, side="right") - 1, 0, len(wx_c) - 1)
            camp[wx] = np.array(wx_c)[k]
        zh_c = [i for i, c in enumerate(self.camps) if c["channel"] == "zhihu"]
        zh = ch == self.chan_codes.index("zhihu")
        camp[zh] = np.array(zh_c)[rng.integers(0, len(zh_c), int(zh.sum()))]
        keep_phone = rng.random(n) < 0.5
        mql = np.where(
            rng.random(n) < DUPLICATE_MQL_SHARE,
            created
            + days_to_s(np.where(rng.random(n) < 0.6, rng.exponential(0.2, n), rng.uniform(1, 60, n))),
            NEVER,
        )
        nurt = created + days_to_s(rng.exponential(1.5, n))
        nurt = np.where(nurt < mql, nurt, NEVER)

        def grow(name: str, values: np.ndarray) -> None:
            setattr(self, name, np.concatenate([getattr(self, name), values]))

        for name in (
            "company", "unknown_prov", "prov", "region", "industry", "bu", "title", "person", "prop",
            "owner_region", "cell", "sdr_slot", "sales_slot",
        ):  # fmt: skip
            grow(name, getattr(self, name)[pick])
        grow("created", created)
        grow("channel", ch)
        grow("campaign", camp)
        grow("email", np.array(emails, dtype=object))
        grow("phone", np.where(keep_phone, self.phone[pick], "").astype(object))
        grow("stage", np.where(mql < NEVER, 1, 0).astype(np.int8))
        grow("seg", np.full(n, -1, dtype=np.int8))
        grow("won", np.zeros(n, dtype=bool))
        grow("crm_dq_flag", np.zeros(n, dtype=bool))
        grow("close_after", np.zeros(n))
        self.lead_ids = np.concatenate([self.lead_ids, ids("L", n, 8, first=N + 1)])
        for k in self.t:
            self.t[k] = np.concatenate([self.t[k], {"mql": mql, "nurt": nurt}.get(k, np.full(n, NEVER))])

    # -- SQL time adjustments: natural month-end push, injected anomalies, out-of-order dirt -------
    def _month_windows(self):
        """(year, month, [last 3 working days]) for every month in the window."""
        out = []
        y, m = self.p.start.year, self.p.start.month
        while dt.date(y, m, 1) <= self.p.end:
            out.append((y, m, month_last_working_days(self.days, y, m, 3)))
            m += 1
            if m == 13:
                y, m = y + 1, 1
        return out

    def _pull_into(
        self, rng, idx: np.ndarray, window: list[dt.date], floor: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """New business-hour times on the window days, later than ``floor`` + 1 h (else not moved).

        Each lead gets a uniformly chosen window day among those still open to it (a lead assigned
        on the window's second day can only be converted on its second or third day).
        """
        wd = np.array([day_number(d) for d in window], dtype=np.int64)
        lo = floor + HOUR
        day_open = (wd[None, :] * DAY + 19 * HOUR) > lo[:, None] + MIN  # (n, days)
        n_open = day_open.sum(axis=1)
        ok = n_open > 0
        # pick the k-th open day
        k = (rng.random(len(idx)) * np.maximum(n_open, 1)).astype(np.int64)
        rank = np.cumsum(day_open, axis=1) - 1
        col = np.argmax(day_open & (rank == k[:, None]), axis=1)
        day = wd[col]
        start = np.maximum(day * DAY + 9 * HOUR, lo + MIN)
        span = np.maximum(day * DAY + 19 * HOUR - start, 1)
        new = start + (rng.random(len(idx)) * span).astype(np.int64)
        return idx[ok], new[ok]

    def _adjust_sql_times(self) -> None:
        rng = self.rs("month_end")
        t = self.t
        t_sql = t["sql"]
        floor = np.maximum(t["assign"], np.where(t["rework"] < NEVER, t["rework"], 0))
        floor = np.maximum(floor, t["mql"])
        months = self._month_windows()
        # natural, mild month-end push (both worlds)
        for y, m, win in months:
            if len(win) < 3:
                continue
            nd = dt.date(y + m // 12, m % 12 + 1, 1)
            a, b = day_number(nd) * DAY, (day_number(nd) + 7) * DAY
            due = np.flatnonzero((t_sql >= a) & (t_sql < b))
            due = due[rng.random(len(due)) < NATURAL_MONTH_END_PULL]
            k, new = self._pull_into(rng, due, win, floor[due])
            t_sql[k] = new
        self.base_sql = t_sql.copy()
        # the customer-side timeline (what MA sees); injections only change when CRM *records* things
        self.t_base = {k: t[k].copy() for k in ("sql", "opp", "close")}
        if not self.p.clean:
            self._inject_holiday_catchup(floor)
            self._inject_month_end(floor, months)
        t["sql"] = t_sql
        # dirt kept on purpose: CRM sql_at earlier than the MA mql_at (backdated by sales)
        rng = self.rs("dirt_stage_order")
        cand = np.flatnonzero((t_sql < NEVER) & (t_sql <= self.t_end) & (t["mql"] - self.created > 6 * HOUR))
        bad = cand[rng.random(len(cand)) < 0.012]
        shown = t_sql.copy()
        shown[bad] = t["mql"][bad] - rng.integers(2 * HOUR, 3 * DAY, len(bad))
        shown[bad] = np.maximum(shown[bad], self.created[bad] + 30 * MIN)
        t["sql_shown"] = shown  # the sql_at value CRM shows; the version is still written at t["sql"]
        self.sql_before_mql = bad

    def _inject_holiday_catchup(self, floor: np.ndarray) -> None:
        rng = self.rs("holiday_catchup")
        t_sql, t_opp = self.t["sql"], self.t["opp"]
        for first, last in self.days.spring_festival_spans():
            if first.year == 2024 and first.month == 2:
                monday = dt.date(2024, 2, 5)
            else:
                monday = last + dt.timedelta(days=(7 - last.weekday()) % 7 or 7)
                while not all(
                    self.days.workday[(monday + dt.timedelta(days=i) - self.days.first).days]
                    for i in range(5)
                ):
                    monday += dt.timedelta(days=7)
            sunday = monday + dt.timedelta(days=6)
            src_a = monday - dt.timedelta(days=14)
            if src_a < self.p.start or sunday > self.p.end:
                continue
            week = self.days.working_days_in(monday, sunday)
            a, b = day_number(src_a) * DAY, day_number(monday) * DAY
            due = np.flatnonzero((t_sql >= a) & (t_sql < b))
            due = due[rng.random(len(due)) < 0.8]
            k, new = self._pull_into(rng, due, week, floor[due])
            if len(k) == 0:
                continue
            # the opportunity (and what follows) was recorded late too when it came right after the SQL
            t_close = self.t["close"]
            late = np.flatnonzero((t_opp[k] < NEVER) & (t_opp[k] <= new + HOUR))
            kl = k[late]
            shift = np.maximum(new[late] + np.maximum(t_opp[kl] - t_sql[kl], HOUR), t_opp[kl]) - t_opp[kl]
            new_opp = self.days.to_business_time(t_opp[kl] + shift, rng, p_keep=0.0)
            t_close[kl] = self.days.to_business_time(t_close[kl] + (new_opp - t_opp[kl]), rng, p_keep=0.0)
            t_opp[kl] = new_opp
            t_sql[k] = new
            self.world.labels.append(
                Label(
                    "holiday_catchup_spike",
                    "week",
                    monday,
                    sunday,
                    "ALL",
                    "ALL",
                    "crm",
                    "leads",
                    {
                        "moved_sqls": len(k),
                        "due_from": str(src_a),
                        "due_to": str(monday - dt.timedelta(days=1)),
                        "spring_festival": [str(first), str(last)],
                    },
                )
            )
            self.catchup_src = getattr(self, "catchup_src", []) + [(src_a, sunday)]

    def _inject_month_end(self, floor: np.ndarray, months) -> None:
        rng = self.rs("month_end_spike")
        t_sql = self.t["sql"]
        nb = len(self.bus)
        mature = t_sql < NEVER
        vol = np.bincount(self.cell[mature], minlength=len(self.regions) * nb)
        top = np.argsort(-vol, kind="stable")[:4]
        monthly = vol / max(1, len(months))
        blocked = getattr(self, "catchup_src", [])
        eligible = []
        for y, m, win in months:
            if len(win) < 3:
                continue
            nd = dt.date(y + m // 12, m % 12 + 1, 1)
            if (
                win[0] < self.p.start + dt.timedelta(days=60)
                or nd + dt.timedelta(days=MONTH_END_PULL_DAYS) > self.p.end
            ):
                continue
            if any(not (nd + dt.timedelta(days=MONTH_END_PULL_DAYS) < a or win[0] > b) for a, b in blocked):
                continue
            eligible.append((y, m, win, nd))
        if not eligible:
            return
        cands = [(c, e) for c in top for e in range(len(eligible))]
        order = rng.permutation(len(cands))
        want = 5 if len(eligible) >= 8 else 3
        chosen = 0
        used_months = set()
        for oi in order:
            if chosen >= want:
                break
            ci, ei = cands[oi]
            y, m, win, nd = eligible[ei]
            if (y, m) in used_months and len(used_months) < len(eligible):
                continue
            a, b = day_number(nd) * DAY, (day_number(nd) + MONTH_END_PULL_DAYS) * DAY
            due = np.flatnonzero((t_sql >= a) & (t_sql < b) & (self.cell == ci))
            k, new = self._pull_into(rng, due, win, floor[due])
            if len(k) < 2:
                continue
            t_sql[k] = new
            # ... and as many borderline MQLs, left open so far, are converted to make the count
            w0, w1 = day_number(win[0]) * DAY, day_number(win[-1]) * DAY
            stale = np.flatnonzero(
                (self.cell == ci)
                & (t_sql == NEVER)
                & (self.t["mql"] < NEVER)
                & (self.t["ret"] == NEVER)
                & (self.t["crm_dq"] == NEVER)
                & (self.t["assign"] < w1)
                & (self.t["assign"] >= w0 - BORDERLINE_MQL_AGE_DAYS * DAY)
            )
            # (at least MONTH_END_SPIKE_SHARE of the cell's usual monthly SQL count in all)
            need = max(len(k), int(np.ceil(MONTH_END_SPIKE_SHARE * monthly[ci])) - len(k))
            extra = np.sort(rng.permutation(stale)[:need])
            ke, new_e = self._pull_into(rng, extra, win, floor[extra])
            t_sql[ke] = new_e
            used_months.add((y, m))
            chosen += 1
            r, bu = divmod(int(ci), nb)
            last = nd - dt.timedelta(days=1)
            self.world.labels.append(
                Label(
                    "month_end_sql_spike",
                    "month",
                    dt.date(y, m, 1),
                    last,
                    self.regions[r],
                    self.bus[bu],
                    "crm",
                    "leads",
                    {
                        "moved_sqls": len(k),
                        "borderline_sqls": len(ke),
                        "window_start": str(win[0]),
                        "window_end": str(win[-1]),
                        "due_from": str(nd),
                        "due_to": str(nd + dt.timedelta(days=MONTH_END_PULL_DAYS - 1)),
                    },
                )
            )

    # -- CRM leads created directly by sales ---------------------------------------------------
    def _crm_direct_leads(self) -> None:
        rng = self.rs("direct")
        n = self.n_direct
        nb = len(self.bus)
        day_w = self.intensity
        d0 = day_number(self.p.start)
        day = d0 + weighted_choice(rng, day_w, n)
        created = self.days.to_business_time(
            day * DAY + rng.integers(9 * HOUR, 19 * HOUR, n), rng, p_keep=0.0
        )
        created = np.sort(created)
        company = self.n_co_ma + np.arange(n)
        region = self.prov_region[self.co_prov[company]]
        bu = self.ind_bu[self.co_ind[company]]
        cell = region * nb + bu
        sales_slot = self._pick_slot(rng, cell, self.cell_sales)
        u = rng.random(n)
        t_sql = np.where(u < 0.65, created + days_to_s(rng.lognormal(np.log(4.0), 0.8, n)), NEVER)
        t_sql = np.where(t_sql < NEVER, self.days.to_business_time(t_sql, rng), NEVER)
        has_opp = (t_sql < NEVER) & (rng.random(n) < 0.8)
        t_opp = np.where(
            has_opp, self.days.to_business_time(t_sql + days_to_s(rng.gamma(1.5, 3.5, n)) + HOUR, rng), NEVER
        )
        won = has_opp & (rng.random(n) < 0.45)
        close_after = np.where(
            won,
            np.clip(rng.gamma(2.2, 19.5 / 2.2, n), 2, 75),
            np.clip(rng.lognormal(np.log(30.0), 0.7, n), 3, 200),
        )
        t_close = np.where(has_opp, self.days.to_business_time(t_opp + days_to_s(close_after), rng), NEVER)
        emails, phones, _ = self._people(self.rs("direct_people"), n, company)
        # keep them distinct from MA people (MA never uses these local-part suffixes / the 14x range)
        emails = np.array([e.replace("@", f".d{i}@") for i, e in enumerate(emails)], dtype=object)
        phones = np.array([f"14{p[2:]}" for p in phones], dtype=object)
        self.direct = {
            "n": n,
            "created": created,
            "company": company,
            "region": region,
            "bu": bu,
            "cell": cell,
            "sales_slot": sales_slot,
            "sql": t_sql,
            "opp": t_opp,
            "close": t_close,
            "won": won,
            "email": emails,
            "phone": phones,
        }

    # -- accounts -----------------------------------------------------------------------------
    def _accounts(self) -> None:
        rng = self.rs("accounts")
        nb = len(self.bus)
        # every company with an SQL lead (MA or direct) becomes an account at its first SQL
        comp = np.concatenate([self.company, self.direct["company"]])
        tsql = np.concatenate([self.t["sql"], self.direct["sql"]])
        cell = np.concatenate([self.cell, self.direct["cell"]])
        has = tsql < NEVER
        comp_h, tsql_h, cell_h = comp[has], tsql[has], cell[has]
        o = np.lexsort((tsql_h, comp_h))
        comp_s, t_s, cell_s = comp_h[o], tsql_h[o], cell_h[o]
        first = np.ones(len(comp_s), dtype=bool)
        first[1:] = comp_s[1:] != comp_s[:-1]
        a_comp, a_created, a_cell = comp_s[first], t_s[first], cell_s[first]
        o2 = np.argsort(a_created, kind="stable")
        a_comp, a_created, a_cell = a_comp[o2], a_created[o2], a_cell[o2]
        na = len(a_comp)
        self.acc = {
            "n": na,
            "company": a_comp,
            "created": a_created,
            "region": a_cell // nb,
            "bu": a_cell % nb,
            "ids": ids("ACC", na, 7),
        }
        self.comp_account = np.full(len(self.co_name), -1)
        self.comp_account[a_comp] = np.arange(na)
        upd = rng.random(na) < 0.15
        self.acc["edit"] = np.where(
            upd, self.days.to_business_time(a_created + days_to_s(rng.uniform(10, 400, na)), rng), NEVER
        )

    # -- opportunities, orders, payments -------------------------------------------------------
    def _opportunities_orders_payments(self) -> None:
        rng = self.rs("deals")
        d = self.direct
        # re-entered CRM leads: another rep enters a known person again, later, with the mobile only
        rng_re = self.rs("crm_reentries")
        ma_crm = np.flatnonzero(self.t["assign"] < NEVER)
        cand = ma_crm[self.phone[ma_crm] != ""]
        gap = np.clip(rng_re.lognormal(np.log(90.0), 0.8, len(cand)), 14.0, 500.0)
        t_re = self.days.to_business_time(self.t["assign"][cand] + days_to_s(gap), rng_re, p_keep=0.0)
        pick = (rng_re.random(len(cand)) < REENTRY_SHARE) & (t_re <= self.t_end)
        re_ma, re_t = cand[pick], t_re[pick]
        nre = len(re_ma)
        # unified CRM leads, ids by first-seen time: MA hand-overs (MQLs), direct ones, re-entries
        kind_all = np.concatenate(
            [np.zeros(len(ma_crm), np.int8), np.ones(d["n"], np.int8), np.full(nre, 2, np.int8)]
        )
        idx_all = np.concatenate([ma_crm, np.arange(d["n"]), np.arange(nre)])
        first_seen = np.concatenate([self.t["assign"][ma_crm], d["created"], re_t])
        o = np.argsort(first_seen, kind="stable")
        kind, idx = kind_all[o], idx_all[o]
        self.crm_origin = np.where(kind == 0, idx, -1 - idx)  # >= 0: MA lead index (MA hand-overs)
        self.crm_first = first_seen[o]
        ncrm = len(o)
        self.crm_ids = ids("CL", ncrm, 8)
        is_ma = kind == 0
        ma_i = idx.copy()
        ma_i[kind == 2] = re_ma[idx[kind == 2]]  # a re-entry: the person's MA lead (company, phone)
        ma_i[kind == 1] = 0
        di = np.where(kind == 1, idx, 0)
        none = np.full(ncrm, NEVER)

        def pickm(ma_arr, d_arr, re_arr=None):
            """Per CRM lead: the MA lead's value, the direct lead's, else the re-entry's."""
            re_v = none if re_arr is None else re_arr
            return np.where(is_ma, ma_arr[ma_i], np.where(kind == 1, d_arr[di], re_v))

        crm = {"n": ncrm, "is_ma": is_ma, "kind": kind, "ma_i": ma_i, "di": di}
        crm["sql"] = pickm(self.t["sql"], d["sql"])
        crm["sql_shown"] = pickm(self.t["sql_shown"], d["sql"])
        crm["opp"] = pickm(self.t["opp"], d["opp"])
        crm["close"] = pickm(self.t["close"], d["close"])
        crm["won"] = pickm(self.won, d["won"], np.zeros(ncrm, dtype=bool))
        crm["company"] = pickm(self.company, d["company"], self.company[ma_i])
        crm["cell"] = pickm(self.cell, d["cell"], self.cell[ma_i])
        # a re-entry belongs to another rep of the cell than the person's own sales rep
        other = self.sales_slot[ma_i].copy()
        shift = rng_re.integers(0, 8, ncrm)
        for i in np.flatnonzero(kind == 2):
            slots = self.cell_sales[self.cell[ma_i[i]]]
            if len(slots) > 1:
                pos = int(np.argmax(slots == other[i]))
                other[i] = slots[(pos + 1 + shift[i] % (len(slots) - 1)) % len(slots)]
        crm["sales_slot"] = pickm(self.sales_slot, d["sales_slot"], other)
        crm["sdr_slot"] = np.where(is_ma, self.sdr_slot[ma_i], -1)
        crm["assign"] = self.crm_first
        for k in ("work", "ret", "rework", "crm_dq"):
            crm[k] = np.where(is_ma, self.t[k][ma_i], none)
        # re-entries: the rep works on it; about half are disqualified as a known person later
        re = kind == 2
        crm["work"] = np.where(
            re,
            self.days.to_business_time(crm["assign"] + days_to_s(rng_re.uniform(0.05, 3, ncrm)), rng_re),
            crm["work"],
        )
        crm["crm_dq"] = np.where(
            re & (rng_re.random(ncrm) < 0.45),
            self.days.to_business_time(crm["assign"] + days_to_s(rng_re.uniform(5, 60, ncrm)), rng_re),
            crm["crm_dq"],
        )
        crm["work"] = np.where(crm["work"] < crm["crm_dq"], crm["work"], NEVER)
        crm["mql"] = np.where(is_ma, self.t["mql"][ma_i], none)
        crm["account"] = np.where(crm["sql"] < NEVER, self.comp_account[crm["company"]], -1)
        # ma_lead_id link often missing (identity then by email / phone)
        crm["has_ma_id"] = is_ma & (rng.random(ncrm) < 0.78)
        # occasional deletions of leads that never became SQL (duplicates merged)
        cand = crm["sql"] == NEVER
        crm["deleted"] = np.where(
            cand & (rng.random(ncrm) < 0.004),
            self.days.to_business_time(crm["assign"] + days_to_s(rng.uniform(1, 120, ncrm)), rng),
            NEVER,
        )
        # SDR call-log edits
        n_notes = rng.poisson(1.2, ncrm)
        note_key = np.repeat(np.arange(ncrm), n_notes)
        horizon = np.minimum.reduce(
            [crm["sql"], crm["ret"], crm["crm_dq"], crm["deleted"], crm["assign"] + 60 * DAY]
        )
        span = np.maximum(horizon[note_key] - crm["assign"][note_key], HOUR)
        crm["note_key"] = note_key
        crm["note_t"] = self.days.to_business_time(
            crm["assign"][note_key] + (rng.random(len(note_key)) * span).astype(np.int64), rng
        )
        self._returned_then_resqled(crm)
        self.crm = crm
        self._opportunities(rng)

    def _returned_then_resqled(self, crm: dict) -> None:
        """A few SQL'd leads without an opportunity are returned by sales and accepted again.

        The full export carries only each record's latest version, so the history (SQL, returned,
        SQL again with a later ``sql_at``) is written where the raw zone sees every version: the
        first SQL before the full export, the return and the re-SQL on two later delta days within
        RESQL_WINDOW_DAYS (``make demo`` loads the first 7 deltas).
        """
        rng = self.rs("resql")
        self.resql = np.zeros(0, dtype=np.int64)
        n = crm["n"]
        crm["sql1"], crm["sql_shown1"], crm["ret2"] = (np.full(n, NEVER) for _ in range(3))
        F = self.p.full_export_date
        f_end = (day_number(F) + 1) * DAY - 1
        last = min(F + dt.timedelta(days=RESQL_WINDOW_DAYS), self.p.end)
        window = self.days.working_days_in(F + dt.timedelta(days=1), last)
        if len(window) < 2:
            window = [F + dt.timedelta(days=i) for i in range(1, (last - F).days + 1)]
        if len(window) < 2:
            return
        cand = np.flatnonzero(
            (crm["sql"] <= f_end - DAY)
            & (crm["sql"] >= f_end - 120 * DAY)
            & (crm["sql_shown"] == crm["sql"])
            & (crm["opp"] == NEVER)
            & (crm["crm_dq"] == NEVER)
            & (crm["deleted"] == NEVER)
        )
        k = min(RESQL_MAX, int(np.ceil(RESQL_SHARE * len(cand))))
        pick = np.sort(rng.permutation(cand)[:k])
        if not len(pick):
            return
        wd = np.array([day_number(x) for x in window], dtype=np.int64)
        i_ret = rng.integers(0, len(wd) - 1, len(pick))
        i_sql = i_ret + 1 + (rng.random(len(pick)) * (len(wd) - 1 - i_ret)).astype(np.int64)
        ret2 = wd[i_ret] * DAY + rng.integers(9 * HOUR, 18 * HOUR, len(pick))
        sql2 = wd[i_sql] * DAY + rng.integers(9 * HOUR, 18 * HOUR, len(pick))
        crm["sql1"][pick] = crm["sql"][pick]
        crm["sql_shown1"][pick] = crm["sql_shown"][pick]
        crm["ret2"][pick] = ret2
        crm["sql"][pick] = sql2
        crm["sql_shown"][pick] = sql2
        self.resql = pick

    def _opportunities(self, rng: np.random.Generator) -> None:
        """Every opportunity: one per converting CRM lead, a second one on some leads (after a lost
        one, or an upsell after a won one), and account-level deals (renewals, expansions: no CRM
        lead) on customer accounts; ids by creation. Multinational accounts may contract in USD."""
        crm = self.crm
        nb = len(self.bus)
        has_opp = np.flatnonzero(crm["opp"] < NEVER)
        lead = has_opp
        created = crm["opp"][has_opp]
        close = crm["close"][has_opp]
        won = crm["won"][has_opp]
        okind = np.zeros(
            len(lead), dtype=np.int8
        )  # 0 first, 1 after a lost one, 2 upsell, 3 renewal, 4 expansion
        # second opportunities of the same lead
        r2 = self.rs("second_opportunities")

        def later(base, lo, hi, p_won, n_sel, rng_):
            c2 = self.days.to_business_time(base + days_to_s(rng_.uniform(lo, hi, n_sel)), rng_, p_keep=0.0)
            w2 = rng_.random(n_sel) < p_won
            after = np.where(
                w2,
                np.clip(rng_.gamma(2.2, 21.0 / 2.2, n_sel), 2.0, 75.0),
                np.clip(rng_.lognormal(np.log(30.0), 0.7, n_sel), 3.0, 200.0),
            )
            cl = self.days.to_business_time(c2 + days_to_s(after), rng_, p_keep=0.0)
            return c2, cl, w2

        lost = np.flatnonzero(~won & (r2.random(len(lead)) < SECOND_OPP_AFTER_LOST))
        c_a, cl_a, w_a = later(close[lost], 30.0, 240.0, 0.55, len(lost), r2)
        ups = np.flatnonzero(won & (r2.random(len(lead)) < UPSELL_SHARE))
        c_b, cl_b, w_b = later(close[ups], 45.0, 240.0, 0.6, len(ups), r2)
        lead = np.concatenate([lead, lead[lost], lead[ups]])
        created = np.concatenate([created, c_a, c_b])
        close = np.concatenate([close, cl_a, cl_b])
        won = np.concatenate([won, w_a, w_b])
        okind = np.concatenate([okind, np.full(len(lost), 1, np.int8), np.full(len(ups), 2, np.int8)])
        account = crm["account"][lead]
        owner = crm["sales_slot"][lead]
        # account-level deals on accounts that became customers (first won deal)
        first_won = np.full(self.acc["n"], NEVER)
        np.minimum.at(first_won, account[won], close[won])
        cust = np.flatnonzero(first_won < NEVER)
        r3 = self.rs("account_deals")
        ren = cust[r3.random(len(cust)) < RENEWAL_SHARE]
        c_r, cl_r, w_r = later(first_won[ren], 320.0, 360.0, 0.8, len(ren), r3)
        exp_ = cust[r3.random(len(cust)) < EXPANSION_SHARE]
        c_e, cl_e, w_e = later(first_won[exp_], 60.0, 300.0, 0.55, len(exp_), r3)
        acc_l = np.concatenate([ren, exp_])
        acc_cell = self.acc["region"][acc_l] * nb + self.acc["bu"][acc_l]
        lead = np.concatenate([lead, np.full(len(acc_l), -1)])
        created = np.concatenate([created, c_r, c_e])
        close = np.concatenate([close, cl_r, cl_e])
        won = np.concatenate([won, w_r, w_e])
        okind = np.concatenate([okind, np.full(len(ren), 3, np.int8), np.full(len(exp_), 4, np.int8)])
        account = np.concatenate([account, acc_l])
        owner = np.concatenate([owner, self._pick_slot(r3, acc_cell, self.cell_sales)])
        # ids by creation
        o = np.argsort(created, kind="stable")
        lead, created, close, won, okind, account, owner = (
            x[o] for x in (lead, created, close, won, okind, account, owner)
        )
        nop = len(lead)
        comp = self.acc["company"][account]
        li = np.maximum(lead, 0)
        bu = np.where(lead >= 0, crm["cell"][li] % nb, self.acc["bu"][account])
        size_f = np.array([0.5, 0.8, 1.0, 1.5, 2.5])[self.co_size[comp]]
        multi_f = np.where(self.co_multi[comp], 1.6, 1.0)
        bu_f = np.array([b.deal_size for b in cat.BUSINESS_UNITS])[bu]
        seg = np.where((lead >= 0) & crm["is_ma"][li], self.seg[crm["ma_i"][li]], 0)
        nurture_f = np.where(seg >= 1, 1.3, 1.0)
        kind_f = np.array([1.0, 1.0, 0.4, 0.8, 0.35])[okind]
        a0 = np.maximum(
            np.round(
                rng.lognormal(np.log(60_000), 0.8, nop) * size_f * multi_f * bu_f * nurture_f * kind_f, -2
            ),
            3_000,
        )
        a1 = np.maximum(np.round(a0 * rng.uniform(0.8, 1.2, nop), -2), 3_000)
        # currency: some multinational accounts contract in USD (every deal of the account)
        usd_acc = self.co_multi[self.acc["company"]] & (
            self.rs("currency").random(self.acc["n"]) < USD_ACCOUNT_SHARE
        )
        usd = usd_acc[account]
        a0 = np.where(usd, np.maximum(np.round(a0 / USD_CNY, -2), 500), a0)
        a1 = np.where(usd, np.maximum(np.round(a1 / USD_CNY, -2), 500), a1)
        dur = np.maximum(close - created, HOUR)
        # stage change times (fractions of the time to close); lost deals reach 0-3 stages
        reach = np.where(won, 3, rng.integers(0, 4, nop))
        st = [created + (dur * f).astype(np.int64) for f in (0.2, 0.45, 0.75)]
        st = [np.where(reach > i, self.days.to_business_time(x, rng), NEVER) for i, x in enumerate(st)]
        st = [np.where(x < NEVER, np.minimum(x, close - 1), NEVER) for x in st]
        deleted = np.where(
            ~won & (rng.random(nop) < 0.01),
            self.days.to_business_time(close + days_to_s(rng.uniform(1, 30, nop)), rng),
            NEVER,
        )
        self.opp = {
            "n": nop,
            "lead": lead,
            "kind": okind,
            "created": created,
            "close": close,
            "won": won,
            "a0": a0,
            "a1": a1,
            "usd": usd,
            "stages": st,
            "deleted": deleted,
            "ids": ids("OPP", nop, 7),
            "owner_slot": owner,
            "account": account,
        }
        self._orders_payments(rng)

    def _orders_payments(self, rng: np.random.Generator) -> None:
        created, close, won, a1 = (self.opp[k] for k in ("created", "close", "won", "a1"))
        # orders for won opportunities
        w = np.flatnonzero(won)
        ordered = close[w]
        recorded = close[w]  # the order record is entered when the deal is won
        before = rng.random(len(w)) < 0.02  # dirt: order dated before the opportunity was created
        ordered = np.where(before, created[w] - rng.integers(1, 8, len(w)) * DAY, ordered)
        o = np.argsort(recorded, kind="stable")
        w, ordered, before, recorded = w[o], ordered[o], before[o], recorded[o]
        nor = len(w)
        amount = np.round(a1[w] * rng.uniform(0.9, 1.0, nor), 0)
        amount = amount + np.where(rng.random(nor) < 0.2, 0.5, 0.0)
        amended = np.where(
            rng.random(nor) < 0.08,
            self.days.to_business_time(recorded + days_to_s(rng.uniform(1, 10, nor)), rng),
            NEVER,
        )
        amount2 = np.round(amount * rng.uniform(1.0, 1.08, nor), 0)
        o_deleted = np.where(
            rng.random(nor) < 0.005,
            self.days.to_business_time(recorded + days_to_s(rng.uniform(1, 20, nor)), rng),
            NEVER,
        )
        self.order = {
            "n": nor,
            "opp": w,
            "ordered": ordered,
            "recorded": recorded,
            "amount": amount,
            "amount2": amount2,
            "amended": amended,
            "deleted": o_deleted,
            "ids": ids("SO", nor, 7),
            "usd": self.opp["usd"][w],
        }
        for k in np.flatnonzero(before):
            self.world.dirty_records.append(
                (
                    "order_before_opportunity",
                    "crm",
                    "orders",
                    self.order["ids"][k],
                    "ordered_at earlier than the opportunity's created_at",
                )
            )
        # account edit when it becomes a customer
        first_order = np.full(self.acc["n"], NEVER)
        acc_of_order = self.opp["account"][w]
        np.minimum.at(first_order, acc_of_order, recorded)
        self.acc["customer"] = np.where(
            first_order < NEVER, np.maximum(first_order, self.acc["created"] + HOUR), NEVER
        )

        # payments: instalments, some unpaid; never above the order amount
        rng = self.rs("payments")
        n_inst = weighted_choice(rng, [0.55, 0.28, 0.17], nor) + 1
        pay_none = rng.random(nor) < 0.06
        pay_short = (n_inst > 1) & (rng.random(nor) < 0.12)
        pk = np.repeat(np.arange(nor), n_inst)
        inst = np.arange(len(pk)) - np.repeat(np.cumsum(n_inst) - n_inst, n_inst)
        ni = n_inst[pk]
        frac = np.where(
            ni == 1,
            1.0,
            np.where(
                ni == 2,
                np.where(inst == 0, 0.5, 0.5),
                np.where(inst == 0, 0.3, np.where(inst == 1, 0.4, 0.3)),
            ),
        )
        cents_total = np.round(amount * 100).astype(np.int64)
        cents = np.floor(cents_total[pk] * frac).astype(np.int64)
        last = inst == ni - 1
        paid_before_last = np.zeros(nor, dtype=np.int64)
        np.add.at(paid_before_last, pk[~last], cents[~last])
        cents = np.where(last, cents_total[pk] - paid_before_last[pk], cents)
        base = recorded[pk]
        gaps = np.where(inst == 0, rng.gamma(1.5, 14.0, len(pk)), rng.uniform(30, 120, len(pk)))
        gap_cum = np.zeros(len(pk))
        # cumulative gap within an order
        csum = np.cumsum(gaps)
        start_off = np.repeat(np.cumsum(n_inst) - n_inst, n_inst)
        gap_cum = csum - np.concatenate([[0.0], csum])[start_off]
        paid_at = self.days.to_business_time(base + days_to_s(gap_cum), rng)
        keep = ~pay_none[pk] & ~(pay_short[pk] & last) & (self.order["deleted"][pk] == NEVER)
        pk, paid_at, cents = pk[keep], paid_at[keep], cents[keep]
        recorded = paid_at + days_to_s(rng.uniform(0.0, 1.0, len(pk)))
        # corrections: a payment entered, deleted later, re-entered under a new id
        corr = rng.random(len(pk)) < 0.008
        del_at = np.where(
            corr, self.days.to_business_time(recorded + days_to_s(rng.uniform(1, 15, len(pk))), rng), NEVER
        )
        ci = np.flatnonzero(corr)
        pk = np.concatenate([pk, pk[ci]])
        paid_at = np.concatenate([paid_at, paid_at[ci]])
        cents = np.concatenate([cents, cents[ci]])
        recorded = np.concatenate([recorded, del_at[ci] + 30 * MIN])
        del_at = np.concatenate([del_at, np.full(len(ci), NEVER)])
        o = np.argsort(recorded, kind="stable")
        self.pay = {
            "n": len(o),
            "order": pk[o],
            "paid_at": paid_at[o],
            "cents": cents[o],
            "recorded": recorded[o],
            "deleted": del_at[o],
            "ids": ids("PAY", len(o), 8),
            "usd": self.order["usd"][pk[o]],
        }

    # -- MA activities ------------------------------------------------------------------------
    def _activities(self) -> None:
        rng = self.rs("activities")
        N = len(self.created)  # duplicate form fills included
        t = dict(self.t, **self.t_base)
        c = self.created
        ch_codes = self.chan_codes
        ci = {code: i for i, code in enumerate(ch_codes)}
        # second channel for ~35 % of leads (first touch != last touch)
        nurture_ch = np.array(
            [
                ci[x]
                for x in (
                    "baidu_sem",
                    "wechat",
                    "live_stream",
                    "seminar",
                    "edm",
                    "zhihu",
                    "trade_show",
                    "seo",
                )
            ]
        )
        second = np.where(rng.random(N) < 0.35, nurture_ch[rng.integers(0, len(nurture_ch), N)], -1)
        second = np.where(second == self.channel, ci["edm"], second)
        self.second_channel = second
        lam = np.array([3.5, 7.0, 9.0, 10.0, 12.0])[self.stage]
        lam = np.where(t["ma_dq"] < NEVER, 0.8, lam)
        n = np.minimum(rng.poisson(lam), 60)
        end_j = np.where(self.stage >= 3, t["close"], np.where(self.stage == 2, t["sql"], t["mql"]))
        end_j = np.where(end_j < NEVER, end_j, c)
        span = np.where(
            self.stage == 0,
            days_to_s(np.clip(rng.exponential(45.0, N), 1, 365)),
            (end_j - c) + days_to_s(rng.exponential(30.0, N)),
        )
        key = np.repeat(np.arange(N), n)
        at = c[key] + (rng.beta(0.9, 1.3, len(key)) * span[key]).astype(np.int64)
        # people act in the daytime (e-mail opens trail into the evening)
        tod = np.where(
            rng.random(len(key)) < 0.75,
            rng.integers(9 * HOUR, 19 * HOUR, len(key)),
            rng.integers(7 * HOUR, 24 * HOUR, len(key)),
        )
        at = (at // DAY) * DAY + tod
        typ = weighted_choice(rng, [a[1] for a in cat.ACTIVITY_TYPES], len(key))
        parts_key, parts_t, parts_type, parts_ch = [key], [at], [typ], [np.full(len(key), -2)]
        type_idx = {a[0]: i for i, a in enumerate(cat.ACTIVITY_TYPES)}
        # creation activity
        cr_type = np.array(
            [type_idx[ch.creation_activity] if ch.creation_activity else -1 for ch in cat.CHANNELS]
        )
        k = np.flatnonzero(cr_type[self.channel] >= 0)
        parts_key.append(k)
        parts_t.append(c[k])
        parts_type.append(cr_type[self.channel[k]])
        parts_ch.append(self.channel[k])
        # MQL trigger
        k = np.flatnonzero(t["mql"] < NEVER)
        parts_key.append(k)
        parts_t.append(t["mql"][k] - rng.integers(0, 30 * MIN, len(k)))
        parts_type.append(
            np.array([type_idx["form_submit"], type_idx["pricing_page_view"], type_idx["content_download"]])[
                weighted_choice(rng, [5, 3, 2], len(k))
            ]
        )
        parts_ch.append(
            np.where(
                (self.second_channel[k] >= 0) & (rng.random(len(k)) < 0.3),
                self.second_channel[k],
                self.channel[k],
            )
        )
        # re-engagement
        k = np.flatnonzero(t["reeng"] < NEVER)
        parts_key.append(k)
        parts_t.append(t["reeng"][k] - rng.integers(0, 30 * MIN, len(k)))
        parts_type.append(
            np.array(
                [type_idx["form_submit"], type_idx["live_stream_watched"], type_idx["webinar_attended"]]
            )[weighted_choice(rng, [4, 3, 3], len(k))]
        )
        parts_ch.append(
            np.where(
                self.second_channel[k] >= 0,
                self.second_channel[k],
                nurture_ch[rng.integers(0, len(nurture_ch), len(k))],
            )
        )
        # last touch before a long-nurtured opportunity
        long_opp = np.flatnonzero((t["opp"] < NEVER) & (t["opp"] - c > 90 * DAY))
        k = long_opp[rng.random(len(long_opp)) < 0.75]
        parts_key.append(k)
        parts_t.append(t["opp"][k] - days_to_s(rng.uniform(3, 40, len(k))))
        parts_type.append(
            np.array(
                [
                    type_idx["form_submit"],
                    type_idx["webinar_attended"],
                    type_idx["live_stream_watched"],
                    type_idx["offline_event_attended"],
                ]
            )[weighted_choice(rng, [4, 2, 2, 2], len(k))]
        )
        parts_ch.append(
            np.where(
                self.second_channel[k] >= 0,
                self.second_channel[k],
                nurture_ch[rng.integers(0, len(nurture_ch), len(k))],
            )
        )
        key = np.concatenate(parts_key)
        at = np.concatenate(parts_t)
        typ = np.concatenate(parts_type)
        chn = np.concatenate(parts_ch)
        at = np.maximum(at, c[key])
        # nurture activity channel: by type
        r = rng.random(len(key))
        email_t = np.isin(
            typ, [type_idx["email_open"], type_idx["email_click"], type_idx["webinar_attended"]]
        )
        web_t = np.isin(
            typ,
            [
                type_idx["web_visit"],
                type_idx["pricing_page_view"],
                type_idx["content_download"],
                type_idx["form_submit"],
            ],
        )
        sec = self.second_channel[key]
        sec_ok = (sec >= 0) & (at > c[key] + 7 * DAY)
        web_ch = np.where(
            r < 0.45,
            self.channel[key],
            np.where(
                r < 0.65, ci["seo"], np.where(r < 0.8, ci["direct"], np.where(sec_ok, sec, self.channel[key]))
            ),
        )
        auto = chn == -2
        chn = np.where(auto & email_t, ci["edm"], chn)
        chn = np.where(auto & web_t, web_ch, chn)
        chn = np.where(auto & (typ == type_idx["live_stream_watched"]), ci["live_stream"], chn)
        chn = np.where(
            auto & (typ == type_idx["offline_event_attended"]),
            np.where(r < 0.5, ci["seminar"], ci["trade_show"]),
            chn,
        )
        # not after deletion, not after the end of the world
        ok = (at < t["deleted"][key]) & (at <= self.t_end)
        key, at, typ, chn = key[ok], at[ok], typ[ok], chn[ok]
        o = np.lexsort((key, at))
        key, at, typ, chn = key[o], at[o], typ[o], chn[o]
        # campaign of the activity
        camp = self._activity_campaign(rng, key, at, chn)
        self.act = {
            "n": len(key),
            "lead": key,
            "at": at,
            "type": typ,
            "channel": chn,
            "campaign": camp,
            "ids": ids("ACT", len(key), 9),
        }
        pts = np.array([a[2] for a in cat.ACTIVITY_TYPES])[typ]
        self.act["points"] = pts

    def _activity_campaign(self, rng, key, at, chn) -> np.ndarray:
        ci = {code: i for i, code in enumerate(self.chan_codes)}
        camp = np.full(len(key), -1)
        own = chn == self.channel[key]
        # the lead's own campaign when the touch is its first channel
        camp = np.where(own, self.campaign[key], camp)
        for code in ("live_stream", "trade_show", "seminar", "wechat"):
            evs = [i for i, c in enumerate(self.camps) if c["channel"] == code]
            if not evs:
                continue
            ev_day = np.array([self.camps[i]["days"][0] for i in evs])
            o = np.argsort(ev_day, kind="stable")
            ev_day, evs_arr = ev_day[o], np.array(evs)[o]
            m = (chn == ci[code]) & ~own
            j = np.clip(np.searchsorted(ev_day, at[m] // DAY, side="right") - 1, 0, len(evs) - 1)
            camp[m] = evs_arr[j]
        m = chn == ci["edm"]
        camp[m] = self.camp_index["edm_nurture"]
        m = (chn == ci["baidu_sem"]) & ~own
        camp[m] = self.camp_index["bd_crm_core"]
        m = (chn == ci["zhihu"]) & ~own
        zh = [i for i, c in enumerate(self.camps) if c["channel"] == "zhihu"]
        camp[m] = np.array(zh)[rng.integers(0, len(zh), int(m.sum()))]
        return camp

    # -- campaign spend -----------------------------------------------------------------------
    def _spend(self) -> None:
        rng = self.rs("spend")
        d0, d1 = day_number(self.p.start), day_number(self.p.end)
        ndays = d1 - d0 + 1
        inten = self.intensity / self.intensity.sum() * self.p.leads  # expected leads per day
        chan_share = {c.code: c.share for c in cat.CHANNELS}
        online_leads = inten * sum(c.share for c in cat.CHANNELS if c.online)
        online_spend = cat.ONLINE_COST_PER_LEAD * online_leads
        rows: list[tuple[int, int, float]] = []  # (day, campaign index, amount)

        def noisy(x, n):
            return x * rng.lognormal(0.0, 0.15, n)

        by_channel: dict[str, list[int]] = {}
        for i, c in enumerate(self.camps):
            by_channel.setdefault(c["channel"], []).append(i)
        # Baidu: 85 % of online spend, split over its always-on campaigns
        bd = by_channel["baidu_sem"]
        bw = np.array([0.3, 0.5, 0.2] + [0.15] * len(self.bus) + [0.08] * len(self.regions))
        bw = bw / bw.sum()
        for j, ci_ in enumerate(bd):
            amt = noisy(online_spend * cat.BAIDU_SHARE_OF_ONLINE_SPEND * bw[j], ndays)
            rows += [(d0 + k, ci_, float(a)) for k, a in enumerate(amt)]
        # WeChat ads (6 %) daily within the quarter; live streams (9 %) on the live day
        for ci_ in by_channel.get("wechat", []):
            days = self.camps[ci_]["days"]
            amt = noisy(online_spend[np.array(days) - d0] * 0.06, len(days))
            rows += [(d, ci_, float(a)) for d, a in zip(days, amt, strict=True)]
        lives = by_channel.get("live_stream", [])
        if lives:
            per_live = online_spend.sum() * 0.09 / len(lives)
            amt = noisy(per_live, len(lives))
            rows += [(self.camps[ci_]["days"][0], ci_, float(a)) for ci_, a in zip(lives, amt, strict=True)]
        # offline: cost per lead by channel, spent on the event days
        cpl = {"trade_show": 600.0, "seminar": 450.0, "cold_call": 180.0}
        for code, c_pl in cpl.items():
            evs = by_channel.get(code, [])
            if not evs:
                continue
            total = c_pl * chan_share[code] * self.p.leads
            w_ = np.array([len(self.camps[i]["days"]) for i in evs], dtype=float)
            per = noisy(total * w_ / w_.sum(), len(evs))
            for ci_, a in zip(evs, per, strict=True):
                ds = self.camps[ci_]["days"]
                rows += [(d, ci_, float(a) / len(ds)) for d in ds]
        # ABM per BU, EDM national: daily
        for code, c_pl, share in (("abm", 1500.0, chan_share["abm"]), ("edm", 0.0, 0.0)):
            evs = by_channel.get(code, [])
            for ci_ in evs:
                daily = (c_pl * share * self.p.leads / len(evs) / ndays) if c_pl else 0.4 * inten.mean()
                amt = noisy(
                    daily * np.where(self.days.workday[self.days.index(np.arange(d0, d1 + 1))], 1.2, 0.5),
                    ndays,
                )
                rows += [(d0 + k, ci_, float(a)) for k, a in enumerate(amt)]
        day = np.array([r[0] for r in rows], dtype=np.int64)
        camp = np.array([r[1] for r in rows], dtype=np.int64)
        cents = np.round(np.array([r[2] for r in rows]) * 100).astype(np.int64)
        o = np.lexsort((camp, day))
        self.spend = {"n": len(rows), "day": day[o], "camp": camp[o], "cents": cents[o]}

    # -- entity timelines ---------------------------------------------------------------------
    def _build_entities(self) -> None:
        w = self.world
        w.campaigns = [
            {
                "campaign_id": c["campaign_id"],
                "utm_campaign": c["code"],
                "channel": c["channel"],
                "region": c["region"],
                "business_unit": c["business_unit"],
            }
            for c in self.camps
        ]
        for e in (
            self._ma_leads(),
            self._ma_activities(),
            self._ma_spend(),
            self._crm_users(),
            self._crm_accounts(),
            self._crm_leads(),
            self._crm_opportunities(),
            self._crm_orders(),
            self._crm_payments(),
        ):
            w.entities[(e.source, e.name)] = e
        for k in self.sql_before_mql:
            crm_k = np.flatnonzero((self.crm["is_ma"]) & (self.crm["ma_i"] == k))
            if len(crm_k):
                w.dirty_records.append(
                    (
                        "sql_before_mql",
                        "crm",
                        "leads",
                        self.crm_ids[crm_k[0]],
                        f"sql_at earlier than MA lead {self.lead_ids[k]}'s mql_at",
                    )
                )
        o, t_end = self.opp, self.t_end
        seen = o["created"] <= t_end
        w.stats = {
            "sql_base": self.base_sql,
            # the CRM shapes of issue 13 in this world, as of its last export day
            "shapes": {
                "duplicate_form_fills": int(len(self.dup_of)),
                "reentered_crm_leads": int((self.crm["kind"] == 2).sum()),
                "returned_then_resqled_leads": int(len(getattr(self, "resql", []))),
                "second_opportunities": int((seen & np.isin(o["kind"], [1, 2])).sum()),
                "account_level_opportunities": int((seen & np.isin(o["kind"], [3, 4])).sum()),
                "usd_opportunities": int((seen & o["usd"]).sum()),
                "usd_orders": int(((self.order["recorded"] <= t_end) & self.order["usd"]).sum()),
                "usd_payments": int(((self.pay["recorded"] <= t_end) & self.pay["usd"]).sum()),
            },
        }

    @staticmethod
    def _events(*pairs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        keys, vts = [], []
        for k, t in pairs:
            m = t < NEVER
            keys.append(np.asarray(k)[m])
            vts.append(np.asarray(t)[m])
        key = np.concatenate(keys).astype(np.int64)
        vt = np.concatenate(vts).astype(np.int64)
        o = np.lexsort((key, vt))
        return key[o], vt[o]

    def _ma_leads(self) -> EntityData:
        N = len(self.created)
        t = self.t
        ar = np.arange(N)
        resc_types = [i for i, a in enumerate(cat.ACTIVITY_TYPES) if a[0] in cat.RESCORING_TYPES]
        act = self.act
        m = np.isin(act["type"], resc_types) & (act["at"] > self.created[act["lead"]])
        key, vt = self._events(
            (ar, self.created),
            (ar, t["nurt"]),
            (ar, t["mql"]),
            (ar, t["rec"]),
            (ar, t["reeng"]),
            (ar, t["ma_dq"]),
            (ar, t["deleted"]),
            (act["lead"][m], act["at"][m]),
        )
        # implicit score: cumulative activity points per lead
        a_lead, a_t, a_pts = act["lead"], act["at"], act["points"]
        o = np.lexsort((a_t, a_lead))
        a_lead_s, a_t_s = a_lead[o], a_t[o]
        cum = np.cumsum(a_pts[o])
        start_of = np.searchsorted(a_lead_s, np.arange(N), side="left")
        cum0 = np.concatenate([[0], cum])
        composite = a_lead_s * (2**40) + (a_t_s - self.t_start + 2**39)
        title_pts = np.array([x[2] for x in cat.JOB_TITLES])[self.title]
        size_pts = np.array([x[2] for x in cat.COMPANY_SIZES])[self.co_size[self.company]]
        explicit = (
            title_pts
            + size_pts
            + np.where(self.co_multi[self.company], 10, 0)
            + np.where(self.prov >= 0, 5, 0)
        )
        chan = cat.CHANNELS
        co = self.company
        prov_names = np.array([""] + self.prov_names, dtype=object)
        ind_names = np.array(self.ind_names, dtype=object)
        camp_codes = np.array([c["code"] for c in self.camps] + [""], dtype=object)
        statuses = np.array(["new", "nurturing", "mql", "recycled", "mql", "disqualified"], dtype=object)
        ch_utm_s = np.array([c.utm_source for c in chan], dtype=object)
        ch_utm_m = np.array([c.utm_medium for c in chan], dtype=object)
        ch_name = np.array([c.name_zh for c in chan], dtype=object)
        ch_src = np.array([c.lead_source for c in chan], dtype=object)
        sizes = np.array([s[0] for s in cat.COMPANY_SIZES], dtype=object)
        titles = np.array([x[0] for x in cat.JOB_TITLES], dtype=object)
        city = np.where(self.prov >= 0, self.co_city[co], "")

        def state(k: np.ndarray, vt: np.ndarray) -> dict[str, np.ndarray]:
            st = last_status(
                [self.created[k], t["nurt"][k], t["mql"][k], t["rec"][k], t["reeng"][k], t["ma_dq"][k]], vt
            )

            # score as of vt (seeds 002/004): explicit points + behaviour points of the last 90 days,
            # -30 without any interaction in the last 30 days
            def points_upto(x):
                pos = np.searchsorted(composite, k * (2**40) + (x - self.t_start + 2**39), side="right")
                return cum0[np.maximum(pos, start_of[k])]

            now = points_upto(vt)
            recent = now - points_upto(vt - 90 * DAY)
            idle = (now - points_upto(vt - 30 * DAY)) == 0
            score = np.clip(explicit[k] + recent - np.where(idle, 30, 0), 0, 100)
            return {
                "lead_id": self.lead_ids[k],
                "created_at": self.created[k],
                "updated_at": vt,
                "email": self.email[k],
                "phone": self.phone[k],
                "company_name": self.co_name[co[k]],
                "job_title": titles[self.title[k]],
                "province": prov_names[self.prov[k] + 1],
                "city": city[k],
                "industry": ind_names[self.industry[k]],
                "company_size": sizes[self.co_size[co[k]]],
                "is_multinational": self.co_multi[co[k]].astype(np.int8),
                "utm_source": ch_utm_s[self.channel[k]],
                "utm_medium": ch_utm_m[self.channel[k]],
                "utm_campaign": camp_codes[self.campaign[k]],
                "channel": ch_name[self.channel[k]],
                "lead_source": ch_src[self.channel[k]],
                "mql_at": ts_if(t["mql"][k], vt),
                "lead_score": score.astype(np.int64),
                "status": statuses[np.maximum(st, 0)],
                "recycled_at": ts_if(t["rec"][k], vt),
                "is_deleted": (t["deleted"][k] <= vt).astype(np.int8),
            }

        return EntityData("ma", "leads", N, key, vt, t["deleted"], state, self.lead_ids)

    def _ma_activities(self) -> EntityData:
        a = self.act
        types = np.array([x[0] for x in cat.ACTIVITY_TYPES], dtype=object)
        chan = cat.CHANNELS
        ch_utm_s = np.array([c.utm_source for c in chan] + [""], dtype=object)
        ch_utm_m = np.array([c.utm_medium for c in chan] + [""], dtype=object)
        camp_codes = np.array([c["code"] for c in self.camps] + [""], dtype=object)
        camp_ids = np.array([c["campaign_id"] for c in self.camps] + [""], dtype=object)
        direct = self.chan_codes.index("direct")
        # direct visits carry no UTM parameters at all
        chn = np.where(a["channel"] == direct, len(chan), a["channel"])
        camp_for_id = np.where(np.isin(a["type"], [0, 1, 5, 6, 7]), a["campaign"], -1)

        def state(k, vt):
            return {
                "activity_id": a["ids"][k],
                "lead_id": self.lead_ids[a["lead"][k]],
                "activity_type": types[a["type"][k]],
                "occurred_at": a["at"][k],
                "campaign_id": camp_ids[camp_for_id[k]],
                "utm_source": ch_utm_s[chn[k]],
                "utm_medium": ch_utm_m[chn[k]],
                "utm_campaign": np.where(chn[k] == len(chan), "", camp_codes[a["campaign"][k]]),
            }

        return EntityData(
            "ma", "activities", a["n"], np.arange(a["n"]), a["at"].copy(), None, state, a["ids"]
        )

    def _ma_spend(self) -> EntityData:
        s = self.spend
        ch_name = {c.code: c.name_zh for c in cat.CHANNELS}
        camps = self.camps
        chan = np.array([ch_name[c["channel"]] for c in camps], dtype=object)
        code = np.array([c["code"] for c in camps], dtype=object)
        region = np.array([c["region"] for c in camps], dtype=object)
        bu = np.array([c["business_unit"] for c in camps], dtype=object)
        vt = s["day"] * DAY + 23 * HOUR

        def state(k, vt_):
            c = s["camp"][k]
            return {
                "spend_date": s["day"][k],
                "channel": chan[c],
                "utm_campaign": code[c],
                "region": region[c],
                "business_unit": bu[c],
                "amount": s["cents"][k],
                "currency": np.full(len(k), "CNY", dtype=object),
            }

        sid = np.array(
            [f"{to_date(d)}|{code[c]}" for d, c in zip(s["day"], s["camp"], strict=True)], dtype=object
        )
        return EntityData("ma", "campaign_spend", s["n"], np.arange(s["n"]), vt, None, state, sid)

    def _crm_users(self) -> EntityData:
        u = self.users
        n = len(u["ids"])
        key, vt = self._events((np.arange(n), u["hire"]), (np.arange(n), u["leave"]))
        slot = u["slot"]
        regions = np.array(self.regions, dtype=object)
        bus = np.array(self.bus + [""], dtype=object)

        def state(k, vt_):
            s = slot[k]
            return {
                "user_id": u["ids"][k],
                "name": u["name"][k],
                "role": self.slot_role[s],
                "region": regions[self.slot_region[s]],
                "business_unit": bus[self.slot_bu[s]],
                "is_active": (u["leave"][k] > vt_).astype(np.int8),
            }

        return EntityData("crm", "users", n, key, vt, None, state, u["ids"])

    def _crm_accounts(self) -> EntityData:
        a = self.acc
        n = a["n"]
        ar = np.arange(n)
        key, vt = self._events((ar, a["created"]), (ar, a["customer"]), (ar, a["edit"]))
        regions = np.array(self.regions, dtype=object)
        bus = np.array(self.bus, dtype=object)
        inds = np.array(self.ind_names, dtype=object)

        def state(k, vt_):
            comp = a["company"][k]
            return {
                "account_id": a["ids"][k],
                "account_name": self.co_name[comp],
                "industry": inds[self.co_ind[comp]],
                "region": regions[a["region"][k]],
                "business_unit": bus[a["bu"][k]],
                "created_at": a["created"][k],
                "updated_at": vt_,
            }

        return EntityData("crm", "accounts", n, key, vt, None, state, a["ids"])

    def _crm_leads(self) -> EntityData:
        c = self.crm
        n = c["n"]
        ar = np.arange(n)
        key, vt = self._events(
            (ar, c["assign"]),
            (ar, c["work"]),
            (ar, c["ret"]),
            (ar, c["rework"]),
            (ar, c["sql"]),
            (ar, c["opp"]),
            (ar, c["crm_dq"]),
            (ar, c["deleted"]),
            (ar, c["ret2"]),
            (ar, c["sql1"]),
            (c["note_key"], c["note_t"]),
        )
        rng = self.rs("crm_identity")
        ma_i, di, is_ma, kind = c["ma_i"], c["di"], c["is_ma"], c["kind"]
        email = np.where(is_ma, self.email[ma_i], np.where(kind == 1, self.direct["email"][di], ""))
        phone = np.where(is_ma, self.phone[ma_i], self.direct["phone"][di])
        # a re-entry: the person's mobile as the other rep typed it (no e-mail, no MA id)
        re_fmt = rng.integers(0, 4, c["n"])
        for i in np.flatnonzero(kind == 2):
            m = self.phone[ma_i[i]]
            phone[i] = (f"{m[:3]} {m[3:7]} {m[7:]}", f"+86 {m[:3]}-{m[3:7]}-{m[7:]}", f"0086{m}", f"+86{m}")[
                re_fmt[i]
            ]
        # CRM sometimes lacks the email (sales typed only the mobile) when the MA id links it
        drop_email = c["has_ma_id"] & (rng.random(n) < 0.06) & (phone != "")
        email = np.where(drop_email, "", email)
        ma_id = np.where(c["has_ma_id"], self.lead_ids[ma_i], "")
        statuses = np.array(
            [
                "assigned",
                "working",
                "returned",
                "working",
                "sql",
                "converted",
                "disqualified",
                "returned",
                "sql",
            ],
            dtype=object,
        )
        acc_ids = np.concatenate([self.acc["ids"], np.array([""], dtype=object)])
        uids = np.concatenate([self.users["ids"], np.array([""], dtype=object)])
        self.crm_email, self.crm_phone = email, phone

        def state(k, vt_):
            st = last_status(
                [
                    c["assign"][k],
                    c["work"][k],
                    c["ret"][k],
                    c["rework"][k],
                    c["sql"][k],
                    c["opp"][k],
                    c["crm_dq"][k],
                    c["ret2"][k],
                    c["sql1"][k],
                ],
                vt_,
            )
            is_sql = np.minimum(c["sql"][k], c["sql1"][k]) <= vt_
            sdr = np.where(
                c["sdr_slot"][k] >= 0, self._user_at(np.maximum(c["sdr_slot"][k], 0), c["assign"][k]), -1
            )
            sales = self._user_at(
                c["sales_slot"][k], np.where(c["sql"][k] < NEVER, c["sql"][k], c["assign"][k])
            )
            owner = np.where(is_sql | (c["sdr_slot"][k] < 0), sales, sdr)
            return {
                "crm_lead_id": self.crm_ids[k],
                "ma_lead_id": ma_id[k],
                "email": email[k],
                "phone": phone[k],
                "company_name": self.co_name[c["company"][k]],
                "account_id": acc_ids[np.where(is_sql, c["account"][k], -1)],
                "owner_id": uids[owner],
                "assigned_at": c["assign"][k],
                "sql_at": np.where(
                    c["sql"][k] <= vt_,
                    c["sql_shown"][k],
                    np.where(c["sql1"][k] <= vt_, c["sql_shown1"][k], NEVER),
                ),
                "status": statuses[np.maximum(st, 0)],
                "returned_at": np.where(c["ret2"][k] <= vt_, c["ret2"][k], ts_if(c["ret"][k], vt_)),
                "updated_at": vt_,
                "is_deleted": (c["deleted"][k] <= vt_).astype(np.int8),
            }

        return EntityData("crm", "leads", n, key, vt, c["deleted"], state, self.crm_ids)

    def _crm_opportunities(self) -> EntityData:
        o = self.opp
        n = o["n"]
        ar = np.arange(n)
        st = o["stages"]
        key, vt = self._events(
            (ar, o["created"]), (ar, st[0]), (ar, st[1]), (ar, st[2]), (ar, o["close"]), (ar, o["deleted"])
        )
        stages = np.array(cat.OPPORTUNITY_STAGES, dtype=object)
        uids = self.users["ids"]
        lead_ids = np.concatenate([self.crm_ids, np.array([""], dtype=object)])  # -1: account-level
        currency = np.where(o["usd"], "USD", "CNY").astype(object)

        def state(k, vt_):
            s = last_status([o["created"][k], st[0][k], st[1][k], st[2][k], o["close"][k]], vt_)
            closed = s == 4
            s = np.where(closed & ~o["won"][k], 5, s)
            amount = np.where(st[1][k] <= vt_, o["a1"][k], o["a0"][k])
            return {
                "opportunity_id": o["ids"][k],
                "crm_lead_id": lead_ids[o["lead"][k]],
                "account_id": self.acc["ids"][o["account"][k]],
                "owner_id": uids[self._user_at(o["owner_slot"][k], o["created"][k])],
                "created_at": o["created"][k],
                "stage": stages[s],
                "amount": np.round(amount * 100).astype(np.int64),
                "currency": currency[k],
                "closed_at": ts_if(o["close"][k], vt_),
                "is_won": np.where(closed, o["won"][k].astype(np.int8), -1).astype(np.int8),
                "updated_at": vt_,
                "is_deleted": (o["deleted"][k] <= vt_).astype(np.int8),
            }

        return EntityData("crm", "opportunities", n, key, vt, o["deleted"], state, o["ids"])

    def _crm_orders(self) -> EntityData:
        r = self.order
        n = r["n"]
        ar = np.arange(n)
        key, vt = self._events((ar, r["recorded"]), (ar, r["amended"]), (ar, r["deleted"]))
        currency = np.where(r["usd"], "USD", "CNY").astype(object)

        def state(k, vt_):
            amount = np.where(r["amended"][k] <= vt_, r["amount2"][k], r["amount"][k])
            oi = r["opp"][k]
            return {
                "order_id": r["ids"][k],
                "opportunity_id": self.opp["ids"][oi],
                "account_id": self.acc["ids"][self.opp["account"][oi]],
                "ordered_at": r["ordered"][k],
                "amount": np.round(amount * 100).astype(np.int64),
                "currency": currency[k],
                "updated_at": vt_,
                "is_deleted": (r["deleted"][k] <= vt_).astype(np.int8),
            }

        return EntityData("crm", "orders", n, key, vt, r["deleted"], state, r["ids"])

    def _crm_payments(self) -> EntityData:
        p = self.pay
        n = p["n"]
        ar = np.arange(n)
        key, vt = self._events((ar, p["recorded"]), (ar, p["deleted"]))
        currency = np.where(p["usd"], "USD", "CNY").astype(object)

        def state(k, vt_):
            return {
                "payment_id": p["ids"][k],
                "order_id": self.order["ids"][p["order"][k]],
                "paid_at": p["paid_at"][k],
                "amount": p["cents"][k],
                "currency": currency[k],
                "updated_at": vt_,
                "is_deleted": (p["deleted"][k] <= vt_).astype(np.int8),
            }

        return EntityData("crm", "payments", n, key, vt, p["deleted"], state, p["ids"])


def simulate(params: Params, progress: Callable[[str], None] | None = None) -> World:
    return Simulator(params, progress).run()
