{#-
    Lead velocity rate (seed 000): per month x region x business unit ('ALL' rollups included),
    the qualified leads (MQLs) of the month, of the month before, and
    LVR % = (this month - last month) / last month x 100; NULL when last month had none or is
    before the first month of data. Built on fct_funnel_flow's monthly rows, whose date spine has
    every month for every cell, so "last month" is always the calendar month before.
-#}

with

monthly as (

    select
        period_start,
        period_end,
        is_complete,
        region,
        business_unit,
        mqls

    from {{ ref('fct_funnel_flow') }}
    where period_grain = 'month'

),

lagged as (

    select
        monthly.*,
        lag(monthly.mqls) over (
            partition by monthly.region, monthly.business_unit
            order by monthly.period_start
        ) as mqls_last_month

    from monthly

),

final as (

    select
        cast(period_start as date) as month_start,
        cast(period_end as date) as month_end,
        cast(is_complete as {{ dbt.type_boolean() }}) as is_complete,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,
        cast(mqls as {{ dbt.type_bigint() }}) as mqls,
        cast(mqls_last_month as {{ dbt.type_bigint() }}) as mqls_last_month,
        cast(mqls - mqls_last_month as {{ dbt.type_bigint() }}) as mql_change,
        {{ safe_divide('(mqls - mqls_last_month) * 100', 'mqls_last_month', 2) }} as lvr_pct

    from lagged

)

select * from final
