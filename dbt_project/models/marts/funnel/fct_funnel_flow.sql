{#-
    Flow funnel: what happened in each period. Grain: period_grain (day, week, month, quarter,
    year) x period_start x region x business_unit, with the rollup rows region = 'ALL',
    business_unit = 'ALL' and both (national). Every period from the first lead's to the as-of
    date has a row for every region x BU cell (zeros, NULL rates), so charts have no holes.

    Flow rate = events of a stage in the period / events of the previous stage in the same period
    (seed 003's Feb-2024 MQL->SQL chart); the two sets of leads differ, so a flow rate can exceed 1.
-#}

{%- set measures = funnel_measures() %}
{%- set flow_measures = [] %}
{%- for name in measures if not name.startswith('cohort_') %}{% do flow_measures.append(name) %}{% endfor %}

with

daily as (

    -- channels folded: a lead has one channel, so this is still one row per lead event
    select
        activity_date,
        region,
        business_unit,
        {%- for name in flow_measures %}
        sum({{ name }}) as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from {{ ref('int_funnel_daily') }}
    group by
        activity_date,
        region,
        business_unit

),

cube as (

    {%- set sums = [] %}
    {%- for name in flow_measures %}{% do sums.append('sum(' ~ name ~ ') as ' ~ name) %}{% endfor %}
    {{ funnel_cube('daily', 'activity_date', sums, ref('int_funnel_periods'), ref('dim_region'), ref('dim_business_unit')) }}

),

filled as (

    select
        period_grain,
        period_start,
        period_end,
        is_complete,
        region,
        business_unit,
        {%- for name in flow_measures %}
        coalesce({{ name }}, 0) as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from cube

),

final as (

    select
        cast(period_grain as {{ dbt.type_string() }}) as period_grain,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        cast(is_complete as {{ dbt.type_boolean() }}) as is_complete,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,
        {%- for name in flow_measures %}
        cast({{ name }} as {{ measures[name].type }}) as {{ name }},
        {%- endfor %}
        {%- for rate, (numerator, denominator) in funnel_rates().items() %}
        {{ safe_divide(numerator, denominator) }} as {{ rate }},
        {%- endfor %}
        {{ safe_divide('sqls_from_new_leads', 'sqls') }} as new_lead_sql_share,
        {{ safe_divide('opportunities_from_new_leads', 'opportunities') }} as new_lead_opportunity_share,
        {{ safe_divide('mqls_assigned_within_48h', 'mqls') }} as mql_assigned_within_48h_share

    from filled

)

select * from final
