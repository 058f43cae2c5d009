{#-
    One row per business day with ISO weeks, period starts and China's working-day calendar. The
    logic is int_dates (shared with the funnel models); this mart only puts it under the contract.
-#}

with

dates as (

    select * from {{ ref('int_dates') }}

),

final as (

    select
        date_day,
        day_of_week,
        day_of_month,
        iso_week_start,
        iso_year,
        iso_week,
        month_start,
        quarter_start,
        year_start,
        calendar_year,
        calendar_quarter,
        calendar_month,
        is_weekend,
        is_holiday,
        holiday_name,
        is_makeup_workday,
        is_workday,
        working_day_of_month,
        working_days_left_in_month,
        is_last_3_working_days_of_month,
        is_provisional

    from dates

)

select * from final
