{#-
    Convert a naive UTC timestamp (how the raw zone stores every *_at column) into naive local
    time in the business time zone (var `business_tz`, from L2C_BUSINESS_TZ, default Asia/Shanghai),
    for bucketing into business days, weeks and months.

    `(ts at time zone 'UTC') at time zone '<tz>'` means the same on DuckDB (ICU) and PostgreSQL:
    read the naive value as UTC, then render it as wall-clock time in <tz>. Spark spells it
    from_utc_timestamp. Adapter-dispatched so every engine gets its own syntax.
-#}
{% macro to_business_time(column) -%}
    {{ return(adapter.dispatch('to_business_time', 'l2c')(column)) }}
{%- endmacro %}

{% macro default__to_business_time(column) -%}
    cast((cast({{ column }} as {{ dbt.type_timestamp() }}) at time zone 'UTC') at time zone '{{ var("business_tz") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro spark__to_business_time(column) -%}
    from_utc_timestamp({{ column }}, '{{ var("business_tz") }}')
{%- endmacro %}

{#- The business-day date of a naive UTC timestamp. -#}
{% macro business_date(column) -%}
    cast({{ to_business_time(column) }} as date)
{%- endmacro %}
