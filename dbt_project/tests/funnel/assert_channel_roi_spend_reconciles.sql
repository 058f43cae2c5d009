{#-
    Reconciliation: all campaign spend in staging is in fct_channel_roi, once, at every grain: the
    channel = region = business_unit = 'ALL' rows of each grain add up to the staging total
    (spend dated outside the leads' dates, national spend and unmapped channels included).
    Returns the grains that differ.
-#}

with

staged as (

    select coalesce(sum(amount), 0) as spend
    from {{ ref('stg_ma__campaign_spend') }}

),

by_grain as (

    select
        period_grain,
        sum(spend) as spend

    from {{ ref('fct_channel_roi') }}
    where channel = 'ALL'
        and region = 'ALL'
        and business_unit = 'ALL'
    group by period_grain

),

grains as (

    {%- for grain, column in funnel_period_grains() %}
    select '{{ grain }}' as period_grain
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

)

select
    grains.period_grain,
    staged.spend as in_staging,
    by_grain.spend as in_mart

from grains
cross join staged
left join by_grain
    on grains.period_grain = by_grain.period_grain
where coalesce(by_grain.spend, 0) <> staged.spend
