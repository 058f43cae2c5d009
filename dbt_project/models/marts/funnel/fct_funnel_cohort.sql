{#-
    Cohort funnel: what became of the leads created in each period. Grain as fct_funnel_flow
    (period_grain x period_start x region x business_unit, 'ALL' rollups, full date spine), with
    the period being the leads' creation period.

    Cohort rate = of the cohort's leads, the share that reached a later stage *so far*;
    `cohort_age_days` says how long the cohort's youngest leads have had (journeys take months:
    seed 002's lead->opportunity averages 84 days), so an immature cohort is visibly immature.
-#}

{%- set measures = funnel_measures() %}
{%- set cohort_measures = [] %}
{%- for name in measures if name.startswith('cohort_') %}{% do cohort_measures.append(name) %}{% endfor %}

with

daily as (

    select
        activity_date,
        region,
        business_unit,
        sum(leads) as cohort_leads,
        {%- for name in cohort_measures %}
        sum({{ name }}) as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from {{ ref('int_funnel_daily') }}
    group by
        activity_date,
        region,
        business_unit

),

as_of as (

    select as_of_date from {{ ref('int_scoring_as_of') }}

),

cube as (

    {%- set sums = ['sum(cohort_leads) as cohort_leads'] %}
    {%- for name in cohort_measures %}{% do sums.append('sum(' ~ name ~ ') as ' ~ name) %}{% endfor %}
    {{ funnel_cube('daily', 'activity_date', sums, ref('int_funnel_periods'), ref('dim_region'), ref('dim_business_unit')) }}

),

filled as (

    select
        cube.period_grain,
        cube.period_start,
        cube.period_end,
        cube.is_complete,
        cube.region,
        cube.business_unit,
        as_of.as_of_date,
        coalesce(cube.cohort_leads, 0) as cohort_leads,
        {%- for name in cohort_measures %}
        coalesce(cube.{{ name }}, 0) as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from cube
    cross join as_of

),

final as (

    select
        cast(period_grain as {{ dbt.type_string() }}) as period_grain,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        cast(is_complete as {{ dbt.type_boolean() }}) as is_complete,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,
        cast(as_of_date as date) as as_of_date,
        -- age of the cohort's youngest leads: from the period's last day (or the as-of date
        -- while the period runs) to the as-of date
        cast(
            case
                when period_end < as_of_date then {{ dbt.datediff('period_end', 'as_of_date', 'day') }}
                else 0
            end
            as integer
        ) as cohort_age_days,
        cast({{ dbt.datediff('period_start', 'as_of_date', 'day') }} as integer) as cohort_max_age_days,
        cast(cohort_leads as {{ dbt.type_bigint() }}) as cohort_leads,
        {%- for name in cohort_measures if not name.startswith('cohort_days_') %}
        cast({{ name }} as {{ measures[name].type }}) as {{ name }},
        {%- endfor %}
        -- mean business days from creation, over the cohort's leads that reached the stage so far
        cast({{ safe_divide('cohort_days_to_opportunity', 'cohort_opportunities', 2) }} as decimal(10, 2)) as mean_days_to_opportunity,
        cast({{ safe_divide('cohort_days_to_order', 'cohort_orders', 2) }} as decimal(10, 2)) as mean_days_to_order,
        {%- for rate, (numerator, denominator) in funnel_rates().items() %}
        {{ safe_divide('cohort_' ~ numerator, 'cohort_' ~ denominator) }} as {{ rate }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from filled

)

select * from final
