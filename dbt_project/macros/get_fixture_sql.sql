{#-
    Unit-test fixtures for sources that the warehouse cannot introspect.

    dbt builds a unit test's `given` rows by asking the warehouse for the input relation's column
    types. On DuckDB our sources are not tables but read_parquet() over the raw zone
    (`external_location`), and dbt asks for "<db>"."raw"."<source>__<entity>", which does not exist
    there (dbt-core issues #9851, #10292); the unit-test context has no graph to read the sources'
    YAML `data_type`s from either. So when a fixture's input relation does not exist and it is one
    of the raw-zone tables, the types come from raw_zone_column_types() (the raw-zone contract,
    generated from plugins/l2c/schema.py by `l2c-dev contracts` at the end of this file); everything
    else goes to dbt's own macro unchanged. On PostgreSQL the raw tables exist and dbt introspects
    them as usual. `l2c-dev contracts --check` (tests/test_contracts.py) fails when the generated
    macro is behind schema.py.

    The row formatting is dbt's own get_fixture_sql (dbt-adapters 1.x), with the types given.
-#}
{% macro get_fixture_sql(rows, column_name_to_data_types) %}
    {%- if not column_name_to_data_types and model.source_name is defined -%}
        {%- set types = raw_zone_column_types().get(this.identifier) -%}
        {%- if types and not load_relation(this) -%}
            {{ return(fixture_sql_from_types(rows, types)) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(dbt.get_fixture_sql(rows, column_name_to_data_types)) }}
{% endmacro %}


{% macro fixture_sql_from_types(rows, column_name_to_data_types) %}
    {%- set default_row = {} -%}
    {%- for column_name, column_type in column_name_to_data_types.items() -%}
        {%- do default_row.update({column_name: (safe_cast("null", column_type) | trim)}) -%}
    {%- endfor -%}
    {%- for row in rows -%}
        {%- set row_values = default_row.copy() -%}
        {%- do row_values.update(format_row(row, column_name_to_data_types)) %}
    select
        {%- for column_name, column_value in row_values.items() %}
        {{ column_value }} as {{ adapter.quote(column_name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
        {%- if not loop.last %}
    union all
        {%- endif -%}
    {%- endfor -%}
    {%- if rows | length == 0 %}
    select
        {%- for column_name, column_value in default_row.items() %}
        {{ column_value }} as {{ adapter.quote(column_name) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    limit 0
    {%- endif -%}
{% endmacro %}


{#- BEGIN raw_zone_column_types: generated from plugins/l2c/schema.py by `l2c-dev contracts`; do not edit -#}
{#- Column -> type of every raw-zone table, by identifier (schema.RAW_TYPES + LINEAGE_COLUMNS). -#}
{% macro raw_zone_column_types() %}
    {%- set s, ts, d, dec, i, b = 'varchar', 'timestamp', 'date', 'decimal(18,2)', 'bigint', 'boolean' -%}
    {%- set lineage = {'_export_date': d, '_source_file': s, '_source_line': i, '_run_id': s} -%}
    {%- set entities = {
        'ma__leads': {'lead_id': s, 'created_at': ts, 'updated_at': ts, 'email': s, 'phone': s, 'company_name': s, 'job_title': s, 'province': s, 'city': s, 'industry': s, 'company_size': s, 'is_multinational': b, 'utm_source': s, 'utm_medium': s, 'utm_campaign': s, 'channel': s, 'lead_source': s, 'mql_at': ts, 'lead_score': i, 'status': s, 'recycled_at': ts, 'is_deleted': b},
        'ma__activities': {'activity_id': s, 'lead_id': s, 'activity_type': s, 'occurred_at': ts, 'campaign_id': s, 'utm_source': s, 'utm_medium': s, 'utm_campaign': s},
        'ma__campaign_spend': {'spend_date': d, 'channel': s, 'utm_campaign': s, 'region': s, 'business_unit': s, 'amount': dec, 'currency': s},
        'crm__users': {'user_id': s, 'name': s, 'role': s, 'region': s, 'business_unit': s, 'is_active': b},
        'crm__accounts': {'account_id': s, 'account_name': s, 'industry': s, 'region': s, 'business_unit': s, 'created_at': ts, 'updated_at': ts},
        'crm__leads': {'crm_lead_id': s, 'ma_lead_id': s, 'email': s, 'phone': s, 'company_name': s, 'account_id': s, 'owner_id': s, 'assigned_at': ts, 'sql_at': ts, 'status': s, 'returned_at': ts, 'updated_at': ts, 'is_deleted': b},
        'crm__opportunities': {'opportunity_id': s, 'crm_lead_id': s, 'account_id': s, 'owner_id': s, 'created_at': ts, 'stage': s, 'amount': dec, 'currency': s, 'closed_at': ts, 'is_won': b, 'updated_at': ts, 'is_deleted': b},
        'crm__orders': {'order_id': s, 'opportunity_id': s, 'account_id': s, 'ordered_at': ts, 'amount': dec, 'currency': s, 'updated_at': ts, 'is_deleted': b},
        'crm__payments': {'payment_id': s, 'order_id': s, 'paid_at': ts, 'amount': dec, 'currency': s, 'updated_at': ts, 'is_deleted': b},
    } -%}
    {%- set tables = {} -%}
    {%- for name, columns in entities.items() -%}
        {%- set with_lineage = columns.copy() -%}
        {%- do with_lineage.update(lineage) -%}
        {%- do tables.update({name: with_lineage}) -%}
    {%- endfor -%}
    {%- do tables.update({
        'loader__quarantine': {'source': s, 'entity': s, 'export_date': d, 'file': s, 'line': i, 'column': s, 'reason': s, 'detail': s, 'raw_record': s, 'run_id': s},
        'loader__load_audit': {'source': s, 'entity': s, 'export_date': d, 'file': s, 'format': s, 'encoding': s, 'rows_in': i, 'rows_loaded': i, 'rows_quarantined': i, 'bytes': i, 'checksum_sha256': s, 'unmapped_headers': s, 'run_id': s, 'loaded_at': ts},
    }) -%}
    {{ return(tables) }}
{% endmacro %}
{#- END raw_zone_column_types -#}
