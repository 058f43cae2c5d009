{#-
    The night the scores are computed for: one row, `as_of_date` (a business date).

    dbt var `as_of_date` (YYYY-MM-DD) when given (backfills, tests); otherwise the latest export
    date found in MA staging (`exported_on` of leads and activities), i.e. the night whose export
    was loaded last. Never the wall clock: re-running a night with the same raw zone gives the same
    as-of date, hence the same scores.

    Ephemeral (inlined into its readers) on purpose: a view would keep the date of the invocation
    that created it, so after a backfill with `--vars '{as_of_date: ...}'` a later
    `dbt run --select fct_lead_scores_daily` would score the backfilled night again.
-#}
{{ config(materialized='ephemeral') }}

{%- set as_of_date = var('as_of_date', none) %}

with

export_dates as (

    select max(exported_on) as exported_on from {{ ref('stg_ma__leads') }}
    union all
    select max(exported_on) as exported_on from {{ ref('stg_ma__activities') }}

),

latest_export as (

    -- exactly one row, also when the var is given
    select max(exported_on) as exported_on from export_dates

),

as_of as (

    select
        cast({% if as_of_date %}'{{ as_of_date }}'{% else %}exported_on{% endif %} as date) as as_of_date

    from latest_export

)

select * from as_of
