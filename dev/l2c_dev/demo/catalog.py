"""Static reference data of the demo world: branch offices, business units, channels, names.

The company's business configuration is the dbt seeds' (``dbt_project/seeds/``: regions,
province_regions, business_units, industry_business_units, channels): :data:`REGIONS`,
:data:`BUSINESS_UNITS` and :data:`CHANNELS` are read from those CSV files at import, in their row
order. This module only adds what the simulation needs on top, keyed by the seeds' values (province
and industry weights, cities, deal sizes, channel mix and propensities); a seed value without its
demo parameters (or the reverse) fails the import, so the demo world only ever uses seed values.

Everything is plain, ordered Python data (tuples, not sets) so the simulation is deterministic.
``world.json`` (written next to the exports) publishes the region list with the provinces each
branch office covers, the business units with their industries, and the channel list keyed by
``utm_source``.

All Chinese strings are GBK-encodable (the MA lead export is GBK).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

#: The dbt project's seeds folder of this checkout (dev/l2c_dev/demo/ -> <repo>/dbt_project/seeds).
SEEDS_DIR = Path(__file__).resolve().parents[3] / "dbt_project" / "seeds"


def read_seed(name: str, seeds_dir: Path | None = None) -> list[dict[str, str]]:
    """The rows of ``<seeds_dir>/<name>.csv`` in file order, as str -> str dicts."""
    with open((seeds_dir or SEEDS_DIR) / f"{name}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _same_keys(what: str, seeds: list[str], params: dict) -> None:
    """The demo parameters cover exactly the seed values (no more, no less)."""
    missing = [k for k in seeds if k not in params]
    unknown = [k for k in params if k not in seeds]
    if missing or unknown:
        raise ValueError(
            f"demo catalog out of step with the dbt seeds: {what} "
            + (f"without demo parameters {missing}" if missing else "")
            + (" and " if missing and unknown else "")
            + (f"not in the seeds {unknown}" if unknown else "")
        )


def _seed_bool(value: str) -> bool:
    if value not in ("true", "false"):
        raise ValueError(f"expected true/false in a boolean seed column, got {value!r}")
    return value == "true"


# --------------------------------------------------------------------------------------------------
# Regions (branch offices, 分公司) and the provinces each covers (seeds regions, province_regions).
# Province weights = share of leads.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    code: str
    name_zh: str
    provinces: tuple[str, ...]


def _regions(seeds_dir: Path | None = None) -> tuple[Region, ...]:
    provinces = read_seed("province_regions", seeds_dir)
    return tuple(
        Region(
            r["region"],
            r["region_name_zh"],
            tuple(p["province"] for p in provinces if p["region"] == r["region"]),
        )
        for r in read_seed("regions", seeds_dir)
    )


REGIONS: tuple[Region, ...] = _regions()

#: province -> (weight in % of leads, cities with their pinyin)
PROVINCES: dict[str, tuple[float, tuple[tuple[str, str], ...]]] = {
    "北京": (9.0, (("北京", "beijing"),)),
    "天津": (2.0, (("天津", "tianjin"),)),
    "河北": (2.5, (("石家庄", "shijiazhuang"), ("唐山", "tangshan"), ("保定", "baoding"))),
    "山西": (1.0, (("太原", "taiyuan"),)),
    "内蒙古": (0.5, (("呼和浩特", "huhehaote"), ("包头", "baotou"))),
    "辽宁": (2.0, (("沈阳", "shenyang"), ("大连", "dalian"))),
    "吉林": (0.6, (("长春", "changchun"),)),
    "黑龙江": (0.8, (("哈尔滨", "haerbin"),)),
    "山东": (6.0, (("济南", "jinan"), ("青岛", "qingdao"), ("烟台", "yantai"), ("潍坊", "weifang"))),
    "上海": (9.0, (("上海", "shanghai"),)),
    "江苏": (10.0, (("南京", "nanjing"), ("苏州", "suzhou"), ("无锡", "wuxi"), ("常州", "changzhou"))),
    "浙江": (10.0, (("杭州", "hangzhou"), ("宁波", "ningbo"), ("温州", "wenzhou"), ("嘉兴", "jiaxing"))),
    "安徽": (3.0, (("合肥", "hefei"), ("芜湖", "wuhu"))),
    "广东": (14.0, (("广州", "guangzhou"), ("深圳", "shenzhen"), ("东莞", "dongguan"), ("佛山", "foshan"))),
    "广西": (1.2, (("南宁", "nanning"), ("柳州", "liuzhou"))),
    "海南": (0.4, (("海口", "haikou"),)),
    "福建": (4.0, (("福州", "fuzhou"), ("厦门", "xiamen"), ("泉州", "quanzhou"))),
    "四川": (4.0, (("成都", "chengdu"), ("绵阳", "mianyang"))),
    "重庆": (2.0, (("重庆", "chongqing"),)),
    "云南": (1.0, (("昆明", "kunming"),)),
    "贵州": (0.8, (("贵阳", "guiyang"),)),
    "西藏": (0.05, (("拉萨", "lasa"),)),
    "湖北": (4.0, (("武汉", "wuhan"), ("宜昌", "yichang"), ("襄阳", "xiangyang"))),
    "湖南": (3.0, (("长沙", "changsha"), ("株洲", "zhuzhou"))),
    "河南": (3.5, (("郑州", "zhengzhou"), ("洛阳", "luoyang"))),
    "江西": (1.5, (("南昌", "nanchang"),)),
    "陕西": (2.0, (("西安", "xian"),)),
    "甘肃": (0.4, (("兰州", "lanzhou"),)),
    "青海": (0.15, (("西宁", "xining"),)),
    "宁夏": (0.2, (("银川", "yinchuan"),)),
    "新疆": (0.5, (("乌鲁木齐", "wulumuqi"),)),
}

_same_keys("provinces", [p for r in REGIONS for p in r.provinces], PROVINCES)

#: Share of MA leads whose province is unknown (empty): they map to region UNKNOWN until assigned.
UNKNOWN_PROVINCE_SHARE = 0.025


def province_to_region() -> dict[str, str]:
    return {p: r.code for r in REGIONS for p in r.provinces}


# --------------------------------------------------------------------------------------------------
# Business units (事业部) by industry (seeds business_units, industry_business_units).
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BusinessUnit:
    code: str
    name_zh: str
    industries: tuple[str, ...]
    #: opportunity amount multiplier
    deal_size: float


#: business unit -> opportunity amount multiplier
DEAL_SIZES: dict[str, float] = {"Manufacturing": 1.3, "High-Tech": 1.0, "Consumer": 0.9, "Services": 1.1}


def _business_units(seeds_dir: Path | None = None) -> tuple[BusinessUnit, ...]:
    industries = read_seed("industry_business_units", seeds_dir)
    units = read_seed("business_units", seeds_dir)
    _same_keys("business units", [b["business_unit"] for b in units], DEAL_SIZES)
    return tuple(
        BusinessUnit(
            b["business_unit"],
            b["business_unit_name_zh"],
            tuple(i["industry"] for i in industries if i["business_unit"] == b["business_unit"]),
            DEAL_SIZES[b["business_unit"]],
        )
        for b in units
    )


BUSINESS_UNITS: tuple[BusinessUnit, ...] = _business_units()

#: industry -> (weight, pinyin, business words for company names as (zh, pinyin))
INDUSTRIES: dict[str, tuple[float, tuple[tuple[str, str], ...]]] = {
    "制造业": (16.0, (("精密机械", "jixie"), ("智能装备", "zhuangbei"), ("工业设备", "shebei"))),
    "汽车": (6.0, (("汽车零部件", "qiche"), ("汽车销售服务", "qichefuwu"))),
    "能源化工": (5.0, (("化工", "huagong"), ("新能源", "nengyuan"))),
    "互联网": (9.0, (("网络科技", "wangluo"), ("信息技术", "xinxi"))),
    "IT软件": (10.0, (("软件", "ruanjian"), ("数据科技", "shuju"))),
    "电子通信": (6.0, (("电子", "dianzi"), ("通信技术", "tongxin"))),
    "快消": (7.0, (("食品", "shipin"), ("日化用品", "rihua"))),
    "零售": (6.0, (("商贸", "shangmao"), ("连锁", "liansuo"))),
    "医疗健康": (7.0, (("医疗器械", "yiliao"), ("生物科技", "shengwu"))),
    "金融": (6.0, (("金融服务", "jinrong"), ("融资租赁", "zulin"))),
    "专业服务": (12.0, (("企业管理咨询", "zixun"), ("人力资源", "renli"), ("会计师事务所", "kuaiji"))),
    "教育培训": (10.0, (("教育科技", "jiaoyu"), ("培训", "peixun"))),
}

_same_keys("industries", [i for b in BUSINESS_UNITS for i in b.industries], INDUSTRIES)

#: characters that make two-character brand names (zh, pinyin)
BRAND_CHARS: tuple[tuple[str, str], ...] = tuple(
    zip(
        "恒信华瑞中科博远天成鼎新金桥宏达安捷联创卓越汇通元丰星河凯盛永泰嘉禾明德东方长青航同百川思源正亿诚润海纳易融兴光蓝启美锐宇精和九州领云帆立银鸿智国康利宝聚荣飞扬尚品众普",
        [
            "heng",
            "xin",
            "hua",
            "rui",
            "zhong",
            "ke",
            "bo",
            "yuan",
            "tian",
            "cheng",
            "ding",
            "xin",
            "jin",
            "qiao",
            "hong",
            "da",
            "an",
            "jie",
            "lian",
            "chuang",
            "zhuo",
            "yue",
            "hui",
            "tong",
            "yuan",
            "feng",
            "xing",
            "he",
            "kai",
            "sheng",
            "yong",
            "tai",
            "jia",
            "he",
            "ming",
            "de",
            "dong",
            "fang",
            "chang",
            "qing",
            "hang",
            "tong",
            "bai",
            "chuan",
            "si",
            "yuan",
            "zheng",
            "yi",
            "cheng",
            "run",
            "hai",
            "na",
            "yi",
            "rong",
            "xing",
            "guang",
            "lan",
            "qi",
            "mei",
            "rui",
            "yu",
            "jing",
            "he",
            "jiu",
            "zhou",
            "ling",
            "yun",
            "fan",
            "li",
            "yin",
            "hong",
            "zhi",
            "guo",
            "kang",
            "li",
            "bao",
            "ju",
            "rong",
            "fei",
            "yang",
            "shang",
            "pin",
            "zhong",
            "pu",
        ],
        strict=True,
    )
)
COMPANY_SUFFIXES: tuple[str, ...] = ("有限公司", "股份有限公司", "集团有限公司")

JOB_TITLES: tuple[tuple[str, float, int], ...] = (
    # title, weight, explicit score points (seniority / buying role)
    ("总经理", 6, 15),
    ("CEO", 2, 15),
    ("CTO", 2, 12),
    ("销售总监", 9, 12),
    ("市场总监", 7, 12),
    ("IT经理", 8, 10),
    ("销售经理", 12, 8),
    ("市场经理", 10, 8),
    ("运营经理", 8, 6),
    ("采购经理", 5, 8),
    ("客服主管", 5, 4),
    ("市场专员", 10, 2),
    ("销售代表", 8, 2),
    ("行政专员", 4, 0),
    ("学生", 1, -10),
)
COMPANY_SIZES: tuple[tuple[str, float, int], ...] = (
    ("50人以下", 28, 0),
    ("50-199人", 30, 5),
    ("200-499人", 20, 8),
    ("500-999人", 12, 10),
    ("1000人以上", 10, 12),
)

SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("许", "xu"),
    ("韩", "han"),
    ("冯", "feng"),
)
GIVEN_NAMES: tuple[tuple[str, str], ...] = (
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀英", "xiuying"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("桂英", "guiying"),
    ("建华", "jianhua"),
    ("晓明", "xiaoming"),
    ("志强", "zhiqiang"),
    ("海燕", "haiyan"),
    ("文博", "wenbo"),
    ("雨桐", "yutong"),
    ("子涵", "zihan"),
    ("浩然", "haoran"),
)
FREE_MAIL_DOMAINS: tuple[str, ...] = ("qq.com", "163.com", "126.com", "sina.com")

# --------------------------------------------------------------------------------------------------
# Channels (seed channels: code, names, utm_source / utm_medium, online, paid). ``utm_source`` alone
# identifies a channel (so the seed can map it); ``share`` is the share of new MA leads entering
# through the channel (first touch); ``propensity`` scales the conversion probabilities (normalised
# so the lead mix hits the calibrated funnel rates).
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    code: str
    name_zh: str
    utm_source: str
    utm_medium: str
    online: bool
    paid: bool
    lead_source: str  # inbound / outbound (seed 002: website = inbound; WeChat, events, live = outbound)
    share: float
    propensity: float
    #: activity type that creates the lead (None: list import, no activity)
    creation_activity: str | None


#: channel -> (lead_source, share, propensity, creation_activity): the demo's part of a channel
CHANNEL_MIX: dict[str, tuple[str, float, float, str | None]] = {
    "baidu_sem": ("inbound", 0.285, 1.0, "form_submit"),
    "seo": ("inbound", 0.205, 0.9, "form_submit"),
    "zhihu": ("inbound", 0.04, 0.8, "form_submit"),
    "weibo": ("outbound", 0.02, 0.5, "form_submit"),
    "wechat": ("outbound", 0.03, 0.8, "form_submit"),
    "live_stream": ("outbound", 0.04, 0.9, "live_stream_watched"),
    "direct": ("inbound", 0.025, 1.2, "form_submit"),
    "trade_show": ("outbound", 0.09, 0.9, "offline_event_attended"),
    "seminar": ("outbound", 0.065, 1.4, "offline_event_attended"),
    "abm": ("outbound", 0.06, 1.5, None),
    "referral": ("inbound", 0.05, 1.8, "form_submit"),
    "cold_call": ("outbound", 0.09, 0.5, None),
    # nurture-only channel: touches existing leads, never a first touch
    "edm": ("outbound", 0.0, 1.0, None),
}


def _channels(seeds_dir: Path | None = None) -> tuple[Channel, ...]:
    rows = read_seed("channels", seeds_dir)
    _same_keys("channels", [c["channel"] for c in rows], CHANNEL_MIX)
    return tuple(
        Channel(
            c["channel"],
            c["channel_name_zh"],
            c["utm_source"],
            c["utm_medium"],
            _seed_bool(c["is_online"]),
            _seed_bool(c["is_paid"]),
            *CHANNEL_MIX[c["channel"]],
        )
        for c in rows
    )


CHANNELS: tuple[Channel, ...] = _channels()

#: Target cost per online lead (seed 003: ~150 CNY per lead; 85 % of online spend on Baidu).
ONLINE_COST_PER_LEAD = 150.0
BAIDU_SHARE_OF_ONLINE_SPEND = 0.85

# --------------------------------------------------------------------------------------------------
# Activities (MA behaviour) and their implicit score points (seed 002 / 004).
# --------------------------------------------------------------------------------------------------

ACTIVITY_TYPES: tuple[tuple[str, float, int], ...] = (
    # type, weight among nurture activities, score points
    ("email_open", 40.0, 1),
    ("email_click", 12.0, 3),
    ("web_visit", 24.0, 2),
    ("pricing_page_view", 5.0, 15),
    ("content_download", 8.0, 10),
    ("webinar_attended", 4.0, 20),
    ("live_stream_watched", 4.5, 30),
    ("offline_event_attended", 2.0, 50),
    ("form_submit", 6.5, 20),
)
#: activity types that make the MA system re-score (and so re-export) the lead
RESCORING_TYPES = (
    "pricing_page_view",
    "content_download",
    "webinar_attended",
    "live_stream_watched",
    "offline_event_attended",
    "form_submit",
)

OPPORTUNITY_STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost")
