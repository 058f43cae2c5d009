"""The input contract: canonical entities, their keys and typed columns (DESIGN section 3).

This module is the single source of truth that the demo generator writes, the loader types and
validates against, and the dbt sources describe. A column's logical type decides how the loader
parses it and which Parquet/Arrow type the raw zone stores:

=========== =================================== ==========================================
type        accepted input                      raw zone (Parquet / DuckDB)
=========== =================================== ==========================================
string      anything (trimmed; '' -> NULL)      VARCHAR
email       trimmed, lower-cased                VARCHAR
phone       any common China/intl. form         VARCHAR, E.164 (``+8613800138000``)
timestamp   ISO 8601 with offset, or naive      TIMESTAMP (naive, **UTC**)
            local time in the business TZ
date        YYYY-MM-DD (also YYYY/MM/DD)        DATE
decimal     ``1,234.50``, ``¥1234.5``, ``1234`` DECIMAL(18, 2)
integer     ``12``, ``12.0``                    BIGINT
boolean     true/false, 1/0, yes/no, y/n, t/f,  BOOLEAN
            是/否
=========== =================================== ==========================================

Every raw row also carries the lineage columns in :data:`LINEAGE_COLUMNS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SOURCES = ("ma", "crm")

#: Lineage columns appended to every raw-zone row, in this order.
LINEAGE_COLUMNS: dict[str, str] = {
    "_export_date": "date",  # the export (= Airflow logical) date the row arrived with
    "_source_file": "string",  # path of the export file, relative to the landing dir
    "_source_line": "integer",  # 1-based physical line (CSV/JSONL) or sheet row (XLSX)
    "_run_id": "string",  # the load run that wrote the partition
}

#: The quarantine partitions' columns (``<raw>/_quarantine/<source>/<entity>/export_date=D/``).
QUARANTINE_COLUMNS: dict[str, str] = {
    "source": "VARCHAR",
    "entity": "VARCHAR",
    "export_date": "DATE",
    "file": "VARCHAR",
    "line": "BIGINT",
    "column": "VARCHAR",
    "reason": "VARCHAR",
    "detail": "VARCHAR",
    "raw_record": "VARCHAR",
    "run_id": "VARCHAR",
}

#: The load audit partitions' columns (``<raw>/_audit/<source>/export_date=D/``), one row per file.
AUDIT_COLUMNS: dict[str, str] = {
    "source": "VARCHAR",
    "entity": "VARCHAR",
    "export_date": "DATE",
    "file": "VARCHAR",
    "format": "VARCHAR",
    "encoding": "VARCHAR",
    "rows_in": "BIGINT",
    "rows_loaded": "BIGINT",
    "rows_quarantined": "BIGINT",
    "bytes": "BIGINT",
    "checksum_sha256": "VARCHAR",
    "unmapped_headers": "VARCHAR",
    "run_id": "VARCHAR",
    "loaded_at": "TIMESTAMP",
}

#: Logical types and the DuckDB type the raw zone stores them as.
RAW_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "email": "VARCHAR",
    "phone": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "decimal": "DECIMAL(18,2)",
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
}


@dataclass(frozen=True)
class Entity:
    """One export entity (one file per source and export date)."""

    source: str
    name: str
    key: tuple[str, ...]
    columns: dict[str, str]
    #: Columns that must be present in the file header (after mapping). Others may be absent and
    #: are then stored as NULL. Key columns are always required and must be non-empty per row.
    required: tuple[str, ...] = field(default=())
    #: Key columns that may be empty (e.g. campaign spend's region: empty = national).
    nullable_key: tuple[str, ...] = field(default=())
    #: Column that orders versions of one key (latest wins); None = the latest export wins.
    version_column: str | None = "updated_at"
    #: Allowed values for enumerated columns (checked by the loader; others are quarantined).
    accepted_values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.source}.{self.name}"

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns the mapped header must contain."""
        return tuple(dict.fromkeys(self.key + self.required))

    @property
    def non_empty_columns(self) -> tuple[str, ...]:
        """Columns every row must fill (else the row is quarantined)."""
        return tuple(c for c in self.required_columns if c not in self.nullable_key)


_MA_LEADS = Entity(
    source="ma",
    name="leads",
    key=("lead_id",),
    columns={
        "lead_id": "string",
        "created_at": "timestamp",
        "updated_at": "timestamp",
        "email": "email",
        "phone": "phone",
        "company_name": "string",
        "job_title": "string",
        "province": "string",
        "city": "string",
        "industry": "string",
        "company_size": "string",
        "is_multinational": "boolean",
        "utm_source": "string",
        "utm_medium": "string",
        "utm_campaign": "string",
        "channel": "string",
        "lead_source": "string",
        "mql_at": "timestamp",
        "lead_score": "integer",
        "status": "string",
        "recycled_at": "timestamp",
        "is_deleted": "boolean",
    },
    required=("created_at", "updated_at"),
    accepted_values={
        "lead_source": ("inbound", "outbound"),
        "status": ("new", "nurturing", "mql", "recycled", "disqualified"),
    },
)

_MA_ACTIVITIES = Entity(
    source="ma",
    name="activities",
    key=("activity_id",),
    columns={
        "activity_id": "string",
        "lead_id": "string",
        "activity_type": "string",
        "occurred_at": "timestamp",
        "campaign_id": "string",
        "utm_source": "string",
        "utm_medium": "string",
        "utm_campaign": "string",
    },
    required=("lead_id", "activity_type", "occurred_at"),
    version_column=None,
    accepted_values={
        "activity_type": (
            "email_open",
            "email_click",
            "web_visit",
            "pricing_page_view",
            "content_download",
            "webinar_attended",
            "live_stream_watched",
            "offline_event_attended",
            "form_submit",
        ),
    },
)

_MA_CAMPAIGN_SPEND = Entity(
    source="ma",
    name="campaign_spend",
    key=("spend_date", "channel", "utm_campaign", "region", "business_unit"),
    columns={
        "spend_date": "date",
        "channel": "string",
        "utm_campaign": "string",
        "region": "string",
        "business_unit": "string",
        "amount": "decimal",
        "currency": "string",
    },
    required=("amount",),
    nullable_key=("utm_campaign", "region", "business_unit"),
    version_column=None,
)

_CRM_USERS = Entity(
    source="crm",
    name="users",
    key=("user_id",),
    columns={
        "user_id": "string",
        "name": "string",
        "role": "string",
        "region": "string",
        "business_unit": "string",
        "is_active": "boolean",
    },
    required=("role",),
    version_column=None,
    accepted_values={"role": ("sdr", "sales", "director")},
)

_CRM_ACCOUNTS = Entity(
    source="crm",
    name="accounts",
    key=("account_id",),
    columns={
        "account_id": "string",
        "account_name": "string",
        "industry": "string",
        "region": "string",
        "business_unit": "string",
        "created_at": "timestamp",
        "updated_at": "timestamp",
    },
    required=("updated_at",),
)

_CRM_LEADS = Entity(
    source="crm",
    name="leads",
    key=("crm_lead_id",),
    columns={
        "crm_lead_id": "string",
        "ma_lead_id": "string",
        "email": "email",
        "phone": "phone",
        "company_name": "string",
        "account_id": "string",
        "owner_id": "string",
        "assigned_at": "timestamp",
        "sql_at": "timestamp",
        "status": "string",
        "returned_at": "timestamp",
        "updated_at": "timestamp",
        "is_deleted": "boolean",
    },
    required=("updated_at",),
    accepted_values={
        "status": ("assigned", "working", "sql", "returned", "disqualified", "converted"),
    },
)

_CRM_OPPORTUNITIES = Entity(
    source="crm",
    name="opportunities",
    key=("opportunity_id",),
    columns={
        "opportunity_id": "string",
        "crm_lead_id": "string",
        "account_id": "string",
        "owner_id": "string",
        "created_at": "timestamp",
        "stage": "string",
        "amount": "decimal",
        "currency": "string",
        "closed_at": "timestamp",
        "is_won": "boolean",
        "updated_at": "timestamp",
        "is_deleted": "boolean",
    },
    required=("created_at", "updated_at"),
)

_CRM_ORDERS = Entity(
    source="crm",
    name="orders",
    key=("order_id",),
    columns={
        "order_id": "string",
        "opportunity_id": "string",
        "account_id": "string",
        "ordered_at": "timestamp",
        "amount": "decimal",
        "currency": "string",
        "updated_at": "timestamp",
        "is_deleted": "boolean",
    },
    required=("ordered_at", "amount", "updated_at"),
)

_CRM_PAYMENTS = Entity(
    source="crm",
    name="payments",
    key=("payment_id",),
    columns={
        "payment_id": "string",
        "order_id": "string",
        "paid_at": "timestamp",
        "amount": "decimal",
        "currency": "string",
        "updated_at": "timestamp",
        "is_deleted": "boolean",
    },
    required=("order_id", "paid_at", "amount", "updated_at"),
)

ENTITIES: dict[tuple[str, str], Entity] = {
    (e.source, e.name): e
    for e in (
        _MA_LEADS,
        _MA_ACTIVITIES,
        _MA_CAMPAIGN_SPEND,
        _CRM_USERS,
        _CRM_ACCOUNTS,
        _CRM_LEADS,
        _CRM_OPPORTUNITIES,
        _CRM_ORDERS,
        _CRM_PAYMENTS,
    )
}


def entities_of(source: str) -> list[Entity]:
    """The entities one source exports, in a stable order."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    return [e for (s, _), e in ENTITIES.items() if s == source]


def get_entity(source: str, name: str) -> Entity:
    try:
        return ENTITIES[(source, name)]
    except KeyError:
        known = ", ".join(f"{s}.{n}" for s, n in ENTITIES)
        raise KeyError(f"unknown entity {source}.{name}; known entities: {known}") from None
