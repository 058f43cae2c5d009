{#-
    ISO-8601 date parts as integers, for dim_date: day of week (1 = Monday .. 7 = Sunday), week of
    the ISO year (1..53, week 1 holds the year's first Thursday) and the ISO year (which differs from
    the calendar year around New Year: 2024-12-30 is in ISO week 1 of 2025).

    The default is PostgreSQL's spelling, which DuckDB shares (`extract(isodow | week | isoyear
    from d)`; `week` is the ISO week on both), so DuckDB needs no variant. Spark spells them
    DAYOFWEEK_ISO and YEAROFWEEK (WEEK is ISO there too); the spark__ variants are not exercised
    until the project has a Spark target. Never use plain `dayofweek`/`dow`: their numbering
    (Sunday = 0 or 1) differs between engines.
-#}
{% macro iso_day_of_week(date_expr) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'l2c')(date_expr)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(date_expr) -%}
    cast(extract(isodow from {{ date_expr }}) as integer)
{%- endmacro %}

{% macro spark__iso_day_of_week(date_expr) -%}
    cast(extract(dayofweek_iso from {{ date_expr }}) as integer)
{%- endmacro %}


{% macro iso_week_of_year(date_expr) -%}
    {{ return(adapter.dispatch('iso_week_of_year', 'l2c')(date_expr)) }}
{%- endmacro %}

{% macro default__iso_week_of_year(date_expr) -%}
    cast(extract(week from {{ date_expr }}) as integer)
{%- endmacro %}


{% macro iso_year(date_expr) -%}
    {{ return(adapter.dispatch('iso_year', 'l2c')(date_expr)) }}
{%- endmacro %}

{% macro default__iso_year(date_expr) -%}
    cast(extract(isoyear from {{ date_expr }}) as integer)
{%- endmacro %}

{% macro spark__iso_year(date_expr) -%}
    cast(extract(yearofweek from {{ date_expr }}) as integer)
{%- endmacro %}
