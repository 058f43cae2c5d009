{#-
    Lead score of every scored lead on every business date, as each night computed it
    (seed 001: "score profile of new leads at month end"; seeds 002/004: scoring rules and bands).
    Formula: macros/scoring.sql, shared with int_lead_scores_current (both unit-tested).

    Incremental, delete+insert on (score_date, lead_key) (the same SQL on DuckDB and PostgreSQL).
    Which dates a run (re)computes, with as_of = int_scoring_as_of (var `as_of_date`, default the
    latest MA export date; never the wall clock):
      - first run / --full-refresh: as_of - score_history_days .. as_of (var, default 62 days: two
        month-ends always covered). Older dates are not built: 30k leads x 2 years would be 21M rows
        for a nightly build on 2 cores;
      - incremental run: (max score_date already present - score_lookback_days) .. as_of (var,
        default 7 days, so activities exported a few nights late still reach the nights they
        belong to), never earlier than as_of - score_history_days. Older dates keep the scores
        their night computed: past nights stay queryable and reproducible.
    A lead gets rows from its creation date on. Rows of a lead that later disappears upstream
    (deleted in MA) stay on the dates already written; --full-refresh rebuilds the window.
-#}

{{ config(
    materialized='incremental',
    unique_key=['score_date', 'lead_key'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

{%- set history_days = var('score_history_days', 62) | int %}
{%- set lookback_days = var('score_lookback_days', 7) | int %}

with

as_of as (

    select as_of_date from {{ ref('int_scoring_as_of') }}

),

states as (

    select * from {{ ref('int_lead_score_states') }}

),

decay_rule as (

    -- always one row (an aggregate without group by); NULLs when the seed has no decay rule
    select
        max(cast(match_value as integer)) as period_days,
        max(points) as points_per_period

    from {{ ref('lead_scoring_rules') }}
    where rule_type = 'decay'

),

bounds as (

    select
        as_of_date,
        {%- set window_start = 'cast(' ~ dbt.dateadd('day', -history_days, 'as_of_date') ~ ' as date)' %}
        {%- if is_incremental() %}
        -- after the dates already present (minus the lookback), never before the history window
        case
            when already_present.resume_from > {{ window_start }}
                then already_present.resume_from
            else {{ window_start }}
        end as first_score_date
        {%- else %}
        {{ window_start }} as first_score_date
        {%- endif %}

    from as_of
    {%- if is_incremental() %}
    cross join (
        select cast({{ dbt.dateadd('day', -lookback_days, 'max(score_date)') }} as date) as resume_from
        from {{ this }}
    ) as already_present
    {%- endif %}

),

day_numbers as (

    {{ dbt.generate_series(history_days + 1) }}

),

score_dates as (

    -- the dates this run writes: first_score_date .. as_of
    select
        bounds.as_of_date,
        cast({{ dbt.dateadd('day', '1 - cast(day_numbers.generated_number as integer)', 'bounds.as_of_date') }} as date) as score_date,
        bounds.first_score_date

    from day_numbers
    cross join bounds

),

run_dates as (

    select as_of_date, score_date
    from score_dates
    where score_date >= first_score_date

),

lead_dates as (

    -- each lead on each date from its creation, with the timeline row valid that day
    select
        states.lead_key,
        states.created_date,
        run_dates.score_date,
        run_dates.as_of_date,
        states.explicit_points,
        states.implicit_points,
        states.last_interaction_date

    from run_dates
    inner join states
        on run_dates.score_date >= states.created_date
        and run_dates.score_date >= states.valid_from
        and (states.valid_to is null or run_dates.score_date < states.valid_to)

),

decayed as (

    select
        lead_dates.*,
        {{ dbt.datediff('lead_dates.last_interaction_date', 'lead_dates.score_date', 'day') }} as days_without_interaction

    from lead_dates

),

with_decay as (

    select
        decayed.*,
        {{ score_decay_points('decayed.days_without_interaction', 'decay_rule.period_days', 'decay_rule.points_per_period') }} as decay_points

    from decayed
    cross join decay_rule

),

scored as (

    select
        *,
        {{ clamped_score('explicit_points', 'implicit_points', 'decay_points') }} as lead_score

    from with_decay

),

final as (

    -- strings cast to varchar, the contract's type, not dbt.type_string() (text on PostgreSQL): an
    -- incremental run compares the new rows' column types with the table's (on_schema_change: fail)
    select
        cast(score_date as date) as score_date,
        cast(lead_key as varchar) as lead_key,
        cast(created_date as date) as lead_created_date,
        cast(lead_score as integer) as lead_score,
        cast(
            {{ score_band('lead_score') }} as varchar
        ) as score_band,
        cast(explicit_points as integer) as explicit_points,
        cast(implicit_points as integer) as implicit_points,
        cast(decay_points as integer) as decay_points,
        cast(last_interaction_date as date) as last_interaction_date,
        cast(days_without_interaction as integer) as days_without_interaction,
        cast(as_of_date as date) as scored_as_of

    from scored

)

select * from final
