{#-
    Channel cost and ROI (seeds 001, 003; seed 000's cost per SQL). Grain: period_grain x
    period_start x channel x region x business_unit, with 'ALL' rollups on each of the three
    (channel = 'ALL' is total marketing). Only combinations with spend or funnel events have rows.

    Funnel side: the leads attributed to the channel (fct_lead_to_cash.attributed_channel, seed
    003's rule; `(none)` = no marketing touch, and every account-level deal), counted as in
    fct_funnel_flow on the day each stage was reached; amounts are the channel's opportunities,
    orders and payments on their own dates, in the reporting currency (int_funnel_daily). Spend side: stg_ma__campaign_spend, its channel (name or code) mapped through
    dim_channel. Spend booked to one region/BU lands in that cell and its rollups; spend with an
    empty region (national) or empty business unit (all units) lands only in rows where that column
    is 'ALL', so it is never spread over cells or counted twice.
    ROI = collected from the attributed leads' payments in the period / spend in the period.
-#}

{%- set funnel_columns = ['leads', 'mqls', 'sqls', 'sqls_from_new_leads', 'sqls_from_nurtured_leads',
                          'opportunities', 'orders', 'paid_leads', 'opportunity_amount', 'order_amount',
                          'collected_amount', 'opportunity_count_all', 'order_count_all', 'payment_count'] %}
{%- set measures = funnel_measures() %}

with

periods as (

    select * from {{ ref('int_funnel_periods') }}

),

funnel_daily as (

    select * from {{ ref('int_funnel_daily') }}

),

spend as (

    select * from {{ ref('stg_ma__campaign_spend') }}

),

channels as (

    select * from {{ ref('dim_channel') }}

),

funnel_periodized as (

    select
        periods.period_grain,
        periods.period_start,
        funnel_daily.*

    from funnel_daily
    inner join periods
        on funnel_daily.activity_date = periods.date_day

),

funnel_rolled as (

    {%- set sums = [] %}
    {%- for name in funnel_columns %}{% do sums.append('sum(' ~ name ~ ') as ' ~ name) %}{% endfor %}
    {{ grouping_rollup('funnel_periodized', ['period_grain', 'period_start'], ['channel', 'region', 'business_unit'], sums) }}

),

spend_mapped as (

    select
        spend.spend_date,
        coalesce(by_code.channel, by_name.channel, spend.channel) as channel,
        case when trim(spend.region) = '' then null else spend.region end as region,
        case when trim(spend.business_unit) = '' then null else spend.business_unit end as business_unit,
        spend.amount

    from spend
    left join channels as by_code
        on spend.channel = by_code.channel
    left join channels as by_name
        on spend.channel = by_name.channel_name_zh
        and by_name.is_mapped

),

spend_periodized as (

    select
        periods.period_grain,
        periods.period_start,
        spend_mapped.*

    from spend_mapped
    inner join periods
        on spend_mapped.spend_date = periods.date_day

),

spend_rolled_all_levels as (

    {{ grouping_rollup('spend_periodized', ['period_grain', 'period_start'], ['channel', 'region', 'business_unit'], ['sum(amount) as spend']) }}

),

spend_rolled as (

    -- national / all-unit spend (empty region / BU) only where that column is rolled up to 'ALL'
    select * from spend_rolled_all_levels
    where region is not null
        and business_unit is not null

),

joined as (

    select
        coalesce(funnel_rolled.period_grain, spend_rolled.period_grain) as period_grain,
        coalesce(funnel_rolled.period_start, spend_rolled.period_start) as period_start,
        coalesce(funnel_rolled.channel, spend_rolled.channel) as channel,
        coalesce(funnel_rolled.region, spend_rolled.region) as region,
        coalesce(funnel_rolled.business_unit, spend_rolled.business_unit) as business_unit,
        coalesce(spend_rolled.spend, 0) as spend,
        {%- for name in funnel_columns %}
        coalesce(funnel_rolled.{{ name }}, 0) as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from funnel_rolled
    full outer join spend_rolled
        on funnel_rolled.period_grain = spend_rolled.period_grain
        and funnel_rolled.period_start = spend_rolled.period_start
        and funnel_rolled.channel = spend_rolled.channel
        and funnel_rolled.region = spend_rolled.region
        and funnel_rolled.business_unit = spend_rolled.business_unit

),

completeness as (

    select distinct period_grain, period_start, is_complete
    from periods

),

marked as (

    select
        joined.*,
        completeness.is_complete

    from joined
    inner join completeness
        on joined.period_grain = completeness.period_grain
        and joined.period_start = completeness.period_start

),

final as (

    select
        cast(period_grain as {{ dbt.type_string() }}) as period_grain,
        cast(period_start as date) as period_start,
        cast(is_complete as {{ dbt.type_boolean() }}) as is_complete,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,
        cast(spend as decimal(18, 2)) as spend,
        {%- for name in funnel_columns %}
        cast({{ name }} as {{ measures[name].type }}) as {{ name }},
        {%- endfor %}
        -- no spend booked to the row (an unpaid channel, or a region whose spend is national):
        -- the cost is unknown, not 0
        {%- for name, denominator in [('lead', 'leads'), ('mql', 'mqls'), ('sql', 'sqls'), ('opportunity', 'opportunities')] %}
        case when spend > 0 then {{ safe_divide('spend', denominator, 2) }} end as cost_per_{{ name }},
        {%- endfor %}
        {{ safe_divide('collected_amount', 'spend', 4) }} as roi

    from marked

)

select * from final
