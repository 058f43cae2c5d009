{#-
    Stage velocity (seed 002: lead -> opportunity 84 days on average, opportunity -> deal 18):
    per period_grain x period_start x region x business_unit ('ALL' rollups, full date spine as
    fct_funnel_flow), for each consecutive stage pair plus lead -> opportunity and lead -> order,
    the number of leads that completed the transition in the period (bucketed on the later stage's
    day), and the mean and median business days it took them (fct_lead_to_cash days_* columns).
    Rollup rows are computed from the leads, not averaged from cells, so their medians are real.
-#}

{%- set transitions = [
    ('lead_to_mql', 'days_lead_to_mql', 'mql_date'),
    ('mql_to_sql', 'days_mql_to_sql', 'sql_date'),
    ('sql_to_opportunity', 'days_sql_to_opportunity', 'opportunity_date'),
    ('opportunity_to_order', 'days_opportunity_to_order', 'order_date'),
    ('order_to_paid', 'days_order_to_paid', 'paid_date'),
    ('lead_to_opportunity', 'days_lead_to_opportunity', 'opportunity_date'),
    ('lead_to_order', 'days_lead_to_order', 'order_date'),
] %}

with

facts as (

    select * from {{ ref('fct_lead_to_cash') }}

),

completed as (

    -- one row per lead and transition it completed
    {%- for name, days, end_date in transitions %}
    select
        cast('{{ name }}' as {{ dbt.type_string() }}) as transition,
        {{ end_date }} as completed_date,
        region,
        business_unit,
        {{ days }} as days

    from facts
    where {{ end_date }} is not null
        and {{ days }} is not null
    {% if not loop.last %}
    union all
    {% endif %}
    {%- endfor %}

),

cube as (

    {%- set aggregates = [] %}
    {%- for name, days, end_date in transitions %}
    {%- set value = "case when transition = '" ~ name ~ "' then days end" %}
    {%- do aggregates.append('count(' ~ value ~ ') as ' ~ name ~ '_count') %}
    {%- do aggregates.append('sum(' ~ value ~ ') as ' ~ name ~ '_total_days') %}
    {%- do aggregates.append(median(value) ~ ' as ' ~ name ~ '_median_days') %}
    {%- endfor %}
    {{ funnel_cube('completed', 'completed_date', aggregates, ref('int_funnel_periods'), ref('dim_region'), ref('dim_business_unit')) }}

),

final as (

    select
        cast(period_grain as {{ dbt.type_string() }}) as period_grain,
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,
        cast(is_complete as {{ dbt.type_boolean() }}) as is_complete,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,
        {%- for name, days, end_date in transitions %}
        cast(coalesce({{ name }}_count, 0) as {{ dbt.type_bigint() }}) as {{ name }}_count,
        -- mean = total / count through safe_divide: the same rounding on every engine
        cast({{ safe_divide(name ~ '_total_days', name ~ '_count', 2) }} as decimal(10, 2)) as {{ name }}_mean_days,
        cast({{ name }}_median_days as decimal(10, 2)) as {{ name }}_median_days{% if not loop.last %},{% endif %}
        {%- endfor %}

    from cube

)

select * from final
