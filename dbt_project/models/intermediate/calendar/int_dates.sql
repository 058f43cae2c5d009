{#-
    The calendar: one row per business day (Asia/Shanghai dates) with ISO weeks, period starts and China's
    working-day calendar (seed china_calendar: holidays, 调休 make-up workdays).

    The range is vars dim_date_start (inclusive) .. dim_date_end (exclusive); the calendar seed
    covers the default range. A date outside the seed gets weekend-only rules and is_provisional.

    Published as marts.dim_date (a thin select under a contract); intermediate models
    (int_funnel_periods) read this model, never the mart.
-#}
{#- A table, not a view (the folder default): read by the dim and by every funnel mart. -#}
{{ config(materialized='table') }}
{%- set start_date = var('dim_date_start', '2020-01-01') -%}
{%- set end_date = var('dim_date_end', '2031-01-01') -%}

with

spine as (

    {{ dbt.date_spine('day', "cast('" ~ start_date ~ "' as date)", "cast('" ~ end_date ~ "' as date)") }}

),

calendar as (

    select * from {{ ref('china_calendar') }}

),

days as (

    select cast(date_day as date) as date_day
    from spine

),

parts as (

    select
        date_day,
        {{ l2c.iso_day_of_week('date_day') }} as day_of_week,
        {{ l2c.iso_week_of_year('date_day') }} as iso_week,
        {{ l2c.iso_year('date_day') }} as iso_year,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast(extract(month from date_day) as integer) as calendar_month,
        cast(extract(quarter from date_day) as integer) as calendar_quarter,
        cast(extract(year from date_day) as integer) as calendar_year,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
        cast({{ dbt.date_trunc('quarter', 'date_day') }} as date) as quarter_start,
        cast({{ dbt.date_trunc('year', 'date_day') }} as date) as year_start

    from days

),

flagged as (

    select
        parts.*,
        -- Monday of the ISO week; computed from the ISO weekday, not date_trunc('week'), whose
        -- first day is engine- and setting-dependent
        cast({{ dbt.dateadd('day', '1 - parts.day_of_week', 'parts.date_day') }} as date) as iso_week_start,
        parts.day_of_week >= 6 as is_weekend,
        coalesce(calendar.is_holiday, false) as is_holiday,
        calendar.holiday_name,
        coalesce(calendar.is_makeup_workday, false) as is_makeup_workday,
        -- outside the seed: Monday to Friday
        coalesce(calendar.is_workday, parts.day_of_week <= 5) as is_workday,
        coalesce(calendar.is_provisional, true) as is_provisional

    from parts
    left join calendar
        on parts.date_day = calendar.calendar_date

),

positioned as (

    select
        flagged.*,
        case
            when flagged.is_workday
                then sum(case when flagged.is_workday then 1 else 0 end) over (
                    partition by flagged.month_start
                    order by flagged.date_day
                    rows between unbounded preceding and current row
                )
        end as working_day_of_month,
        coalesce(sum(case when flagged.is_workday then 1 else 0 end) over (
            partition by flagged.month_start
            order by flagged.date_day
            rows between 1 following and unbounded following
        ), 0) as working_days_left_in_month

    from flagged

),

final as (

    select
        cast(date_day as date) as date_day,
        cast(day_of_week as integer) as day_of_week,
        cast(day_of_month as integer) as day_of_month,
        cast(iso_week_start as date) as iso_week_start,
        cast(iso_year as integer) as iso_year,
        cast(iso_week as integer) as iso_week,
        cast(month_start as date) as month_start,
        cast(quarter_start as date) as quarter_start,
        cast(year_start as date) as year_start,
        cast(calendar_year as integer) as calendar_year,
        cast(calendar_quarter as integer) as calendar_quarter,
        cast(calendar_month as integer) as calendar_month,
        cast(is_weekend as boolean) as is_weekend,
        cast(is_holiday as boolean) as is_holiday,
        cast(holiday_name as varchar) as holiday_name,
        cast(is_makeup_workday as boolean) as is_makeup_workday,
        cast(is_workday as boolean) as is_workday,
        cast(working_day_of_month as integer) as working_day_of_month,
        cast(working_days_left_in_month as integer) as working_days_left_in_month,
        cast(is_workday and working_days_left_in_month < 3 as boolean) as is_last_3_working_days_of_month,
        cast(is_provisional as boolean) as is_provisional

    from positioned

)

select * from final
