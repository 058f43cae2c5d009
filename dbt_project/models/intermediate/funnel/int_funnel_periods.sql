{#-
    The calendar of the funnel marts: one row per (period_grain, period_start, date_day) for the
    five grains (day, ISO week from Monday, month, quarter, year), from int_dates (dim_date's calendar), covering every
    period from the one holding the first lead's creation day (or first opportunity, order,
    payment or spend day) to the one
    holding the build's as-of date (int_scoring_as_of: the latest export date, or var
    `as_of_date`) or the last stage / opportunity / order / payment / spend date, whichever is later. Marts join their daily rows to it to bucket them into every grain at once,
    and use its distinct periods as the date spine, so a period with no events still has a row.
    `is_complete`: the period ended before the as-of date (the as-of day itself may still be
    exported; a running week, month, quarter or year is never complete).

    Ephemeral: a few thousand rows, inlined into each mart.
-#}
{{ config(materialized='ephemeral') }}

with

facts as (

    select * from {{ ref('int_lead_to_cash') }}

),

opportunities as (

    select opportunity_date from {{ ref('int_opportunities_enriched') }}

),

orders as (

    select order_date from {{ ref('int_orders_enriched') }}

),

payments as (

    select payment_date from {{ ref('int_payments_enriched') }}

),

as_of as (

    select as_of_date from {{ ref('int_scoring_as_of') }}

),

spend as (

    select spend_date from {{ ref('stg_ma__campaign_spend') }}

),

dated as (

    select
        created_date as first_date,
        coalesce(paid_date, order_date, opportunity_date, sql_date, mql_date, created_date) as last_date
    from facts

    union all

    -- every money event on its own date (later instalments, account-level deals)
    select opportunity_date as first_date, opportunity_date as last_date
    from opportunities

    union all

    select order_date as first_date, order_date as last_date
    from orders

    union all

    select payment_date as first_date, payment_date as last_date
    from payments

    union all

    -- spend outside the leads' dates must not fall off fct_channel_roi
    select spend_date as first_date, spend_date as last_date
    from spend

),

bounds as (

    -- one row (aggregates without group by), also when there is no data
    select
        min(first_date) as first_date,
        max(last_date) as last_event_date

    from dated

),

range_ as (

    select
        bounds.first_date,
        case
            when bounds.last_event_date is null or bounds.last_event_date < as_of.as_of_date then as_of.as_of_date
            else bounds.last_event_date
        end as last_date

    from bounds
    cross join as_of

),

days as (

    select dates.*
    from {{ ref('int_dates') }} as dates
    cross join range_
    where dates.date_day <= range_.last_date

),

first_periods as (

    -- start of each grain's first period: periods are whole, the first one starts before the data
    select
            {%- for grain, column in funnel_period_grains() %}
        min(case when days.date_day = range_.first_date then days.{{ column }} end) as first_{{ grain }}{% if not loop.last %},{% endif %}
            {%- endfor %}

    from days
    cross join range_

),

periods as (

    {%- for grain, column in funnel_period_grains() %}
    select
        cast('{{ grain }}' as {{ dbt.type_string() }}) as period_grain,
        days.{{ column }} as period_start,
        days.date_day

    from days
    cross join first_periods
    where days.{{ column }} >= first_periods.first_{{ grain }}
    {% if not loop.last %}
    union all
    {% endif %}
    {%- endfor %}

),

final_periods as (

    select
        period_grain,
        cast(period_start as date) as period_start,
        cast(
            case period_grain
                when 'day' then period_start
                when 'week' then {{ dbt.dateadd('day', 6, 'period_start') }}
                when 'month' then {{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'period_start')) }}
                when 'quarter' then {{ dbt.dateadd('day', -1, dbt.dateadd('month', 3, 'period_start')) }}
                else {{ dbt.dateadd('day', -1, dbt.dateadd('year', 1, 'period_start')) }}
            end
            as date
        ) as period_end,
        cast(date_day as date) as date_day

    from periods

),

marked as (

    select
        final_periods.*,
        cast(final_periods.period_end < as_of.as_of_date as {{ dbt.type_boolean() }}) as is_complete

    from final_periods
    cross join as_of

)

select * from marked
