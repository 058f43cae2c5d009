"""The input contract: canonical entities, their keys and typed columns.

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

Each column is described here too (:meth:`Entity.column_description`): the dbt sources' column
lists, ``data_type``s and descriptions, dbt's unit-test fixture types and the raw Great
Expectations suites are generated from this module by ``l2c-dev contracts`` (``--check`` in CI).
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

#: What each lineage column holds (the dbt sources' column descriptions).
LINEAGE_DESCRIPTIONS: dict[str, str] = {
    "_export_date": "Export date (= the Airflow logical date) the row arrived with; also the raw-zone partition `export_date=`.",
    "_source_file": "Path of the export file the row came from, relative to the landing folder.",
    "_source_line": "1-based physical line (CSV, JSON Lines) or sheet row (XLSX) of the row in `_source_file`.",
    "_run_id": "Id of the load run that wrote the raw-zone partition.",
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

#: What each quarantine column holds (the dbt source ``loader.quarantine``'s descriptions).
QUARANTINE_DESCRIPTIONS: dict[str, str] = {
    "source": "Source system of the export: `ma` or `crm`.",
    "entity": "Entity (export file kind) the row belonged to, e.g. `leads`.",
    "export_date": "Export (= Airflow logical) date of the file.",
    "file": "Export file the row came from, relative to the landing folder.",
    "line": "1-based physical line (CSV, JSON Lines) or sheet row (XLSX) of the rejected row; empty when the whole file was rejected.",
    "column": "Canonical column that failed, when the reason is about one column.",
    "reason": "Machine-readable rejection reason (e.g. a bad value, a missing required value, a short row).",
    "detail": "Human-readable explanation: the offending value and what was expected.",
    "raw_record": "The original row as received (JSON text of header -> value), so it can be fixed and replayed.",
    "run_id": "Id of the load run that quarantined the row.",
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

#: What each load audit column holds (the dbt source ``loader.load_audit``'s descriptions).
AUDIT_DESCRIPTIONS: dict[str, str] = {
    "source": "Source system of the export: `ma` or `crm`.",
    "entity": "Entity the file holds, e.g. `leads`.",
    "export_date": "Export (= Airflow logical) date of the file.",
    "file": "Export file, relative to the landing folder.",
    "format": "File format detected: csv, jsonl or xlsx.",
    "encoding": "Text encoding detected (utf-8, utf-8-sig, gbk, ...); empty for XLSX.",
    "rows_in": "Data rows read from the file.",
    "rows_loaded": "Rows written to the raw zone.",
    "rows_quarantined": "Rows written to quarantine.",
    "bytes": "File size in bytes.",
    "checksum_sha256": "SHA-256 of the file's bytes (detects a re-sent or changed file).",
    "unmapped_headers": "Headers in the file that map to no canonical column (kept out of the raw zone, reported here).",
    "run_id": "Id of the load run.",
    "loaded_at": "When the loader finished the file, UTC.",
}

#: Descriptions of the columns that mean the same in every entity that has them; an entity's own
#: ``descriptions`` cover the rest (and may override these).
COLUMN_DESCRIPTIONS: dict[str, str] = {
    "updated_at": "When the source system last changed the record, UTC. Orders the versions of one key: the latest wins.",
    "email": "Contact email, trimmed and lower-cased by the loader (not otherwise validated).",
    "phone": "Contact phone in E.164 form (e.g. `+8613800138000`), normalized by the loader; China (+86) is assumed for numbers without a country code.",
    "company_name": "Company name as typed into the source system.",
    "industry": "Industry as recorded in the source system (free text).",
    "utm_source": "UTM source of the touch (e.g. `baidu`, `zhihu`, `wechat`); mapped to a channel downstream by a seed.",
    "utm_medium": "UTM medium of the touch (e.g. `cpc`, `social`, `email`).",
    "is_deleted": "True when the source system deleted the record. Only the latest version counts: a deleted record is dropped in staging.",
    "currency": "ISO 4217 currency code of `amount`; empty when the export names none, which the event facts read as L2C_DEFAULT_CURRENCY (default CNY).",
    "owner_id": "CRM user (`users.user_id`) who owns the record.",
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
    #: What the entity is (documentation; the key and version rule are added where it is shown).
    description: str = ""
    #: column -> what it holds, for the columns :data:`COLUMN_DESCRIPTIONS` does not describe.
    descriptions: dict[str, str] = field(default_factory=dict)

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

    def column_description(self, column: str) -> str | None:
        """What a column (canonical or lineage) holds; None when nothing describes it."""
        return (
            self.descriptions.get(column)
            or COLUMN_DESCRIPTIONS.get(column)
            or LINEAGE_DESCRIPTIONS.get(column)
        )


_MA_LEADS = Entity(
    source="ma",
    name="leads",
    description="Leads from the marketing-automation system: one row per lead version as exported (deltas or snapshots, so a lead repeats across exports).",
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
    descriptions={
        "lead_id": "MA lead id (primary key in MA).",
        "created_at": "When the lead was created in MA, UTC.",
        "job_title": "Contact's job title (free text).",
        "province": "Province of the lead's company (Chinese province name); mapped to a region downstream when no CRM owner or account gives one.",
        "city": "City of the lead's company.",
        "company_size": "Company size band as exported (e.g. `100-499`).",
        "is_multinational": "True when the lead's company is a multinational (explicit scoring attribute).",
        "utm_campaign": "UTM campaign of the touch.",
        "channel": "Channel label the MA system assigned to the lead (raw; attribution uses UTM values and the channel seed).",
        "lead_source": "`inbound` (the lead came to us) or `outbound` (we reached out).",
        "mql_at": "When the lead became marketing-qualified (MQL), UTC; empty if it never did.",
        "lead_score": "Lead score computed by the MA system (integer points).",
        "status": "MA lifecycle status: new, nurturing, mql, recycled or disqualified.",
        "recycled_at": "When the lead was last recycled back to nurture, UTC.",
    },
)

_MA_ACTIVITIES = Entity(
    source="ma",
    name="activities",
    description="Behavioural touches recorded by the marketing-automation system (email, web, content, events): immutable events, re-sent exports repeat them.",
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
    descriptions={
        "activity_id": "MA activity id (primary key).",
        "lead_id": "MA lead (`leads.lead_id`) that performed the activity.",
        "activity_type": "Kind of touch: email_open, email_click, web_visit, pricing_page_view, content_download, webinar_attended, live_stream_watched, offline_event_attended or form_submit.",
        "occurred_at": "When the activity happened, UTC.",
        "campaign_id": "MA campaign the activity belongs to, if any.",
        "utm_campaign": "UTM campaign of the touch.",
    },
)

_MA_CAMPAIGN_SPEND = Entity(
    source="ma",
    name="campaign_spend",
    description="Marketing spend per day, channel, campaign, region and business unit, exported by the MA system; a later export restates a day's spend.",
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
    descriptions={
        "spend_date": "Day the money was spent (business-calendar date, no time zone).",
        "channel": "Channel the spend went to (e.g. Baidu SEM, trade show).",
        "utm_campaign": "Campaign the spend belongs to; empty = not tied to one campaign.",
        "region": "Region the spend targets; empty = national.",
        "business_unit": "Business unit the spend is for; empty = all units.",
        "amount": "Amount spent, in `currency` (DECIMAL(18,2)).",
    },
)

_CRM_USERS = Entity(
    source="crm",
    name="users",
    description="CRM users (SDRs, sales reps, directors) with their region and business unit; a snapshot table without a change timestamp.",
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
    descriptions={
        "user_id": "CRM user id (primary key).",
        "name": "User's display name.",
        "role": "sdr (sales development rep), sales or director.",
        "region": "Region (branch office, 分公司) the user works for; a lead's owner decides its region.",
        "business_unit": "Business unit (事业部) the user works for; a lead's owner decides its BU.",
        "is_active": "False once the user has left or been deactivated.",
    },
)

_CRM_ACCOUNTS = Entity(
    source="crm",
    name="accounts",
    description="CRM accounts (customer companies).",
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
    descriptions={
        "account_id": "CRM account id (primary key).",
        "account_name": "Company name of the account.",
        "region": "Region (branch office, 分公司) the account belongs to; used for a lead when its owner has none.",
        "business_unit": "Business unit (事业部) the account belongs to; used for a lead when its owner has none.",
        "created_at": "When the record was created in the source system, UTC.",
    },
)

_CRM_LEADS = Entity(
    source="crm",
    name="leads",
    description="Leads as the CRM sees them (assigned to sales, worked, qualified to SQL, returned to nurture).",
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
    descriptions={
        "crm_lead_id": "CRM lead id (primary key in CRM).",
        "ma_lead_id": "MA lead id this CRM lead came from; often empty (leads created in CRM directly, or the link was lost), then email/phone match.",
        "account_id": "CRM account (company) the record belongs to.",
        "assigned_at": "When the lead was assigned to a CRM owner, UTC (speed-to-lead starts at MA creation).",
        "sql_at": "When sales accepted the lead as sales-qualified (SQL), UTC.",
        "status": "CRM status: assigned, working, sql, returned, disqualified or converted.",
        "returned_at": "When sales returned the lead to marketing for nurture, UTC.",
    },
)

_CRM_OPPORTUNITIES = Entity(
    source="crm",
    name="opportunities",
    description="CRM opportunities (商机) with stage, amount and outcome.",
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
    descriptions={
        "opportunity_id": "CRM opportunity id (primary key).",
        "crm_lead_id": "CRM lead the opportunity was converted from; empty for opportunities created on an account directly.",
        "account_id": "CRM account (company) the record belongs to.",
        "created_at": "When the opportunity was created, UTC (the lead's opportunity stage date).",
        "stage": "Sales stage as named in the CRM (free text, vendor-specific).",
        "amount": "Expected deal value, in `currency` (DECIMAL(18,2)).",
        "closed_at": "When the opportunity was closed (won or lost), UTC.",
        "is_won": "True when closed won, false when closed lost, empty while open.",
    },
)

_CRM_ORDERS = Entity(
    source="crm",
    name="orders",
    description="CRM orders (订单): signed deals.",
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
    descriptions={
        "order_id": "CRM order id (primary key).",
        "opportunity_id": "Opportunity the order closes.",
        "account_id": "CRM account (company) the record belongs to.",
        "ordered_at": "When the order was signed, UTC.",
        "amount": "Order value, in `currency` (DECIMAL(18,2)).",
    },
)

_CRM_PAYMENTS = Entity(
    source="crm",
    name="payments",
    description="Payments collected (回款) against orders; an order can be paid in instalments.",
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
    descriptions={
        "payment_id": "CRM payment id (primary key).",
        "order_id": "Order the payment is for.",
        "paid_at": "When the money was received, UTC.",
        "amount": "Amount received, in `currency` (DECIMAL(18,2)).",
    },
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
