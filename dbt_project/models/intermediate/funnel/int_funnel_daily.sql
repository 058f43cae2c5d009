{#-
    Every funnel measure per business day x region x business unit x attributed channel: the one
    aggregation of fct_lead_to_cash that fct_funnel_flow, fct_funnel_cohort and fct_channel_roi
    roll up into periods. Only combinations with at least one event have a row.

    Two kinds of measures, bucketed by different days:
      flow   (leads, mqls, sqls, ..., amounts, new/nurtured, speed to lead, recycling): on the day
             the event happened, i.e. the day the lead *first* reached the stage (`<stage>_date`);
      cohort (cohort_*): on the lead's creation day, counting what its leads have reached so far.
    Amounts follow the lead: `opportunity_amount` (first opportunity), `order_amount` (all orders)
    and `collected_amount` (all payments) of the leads reaching that stage on the day.

    The list of measures below is the single definition; the marts take their columns from it
    (macro funnel_measures()).
-#}
{{ config(materialized='table') }}

with

facts as (

    select
        *,
        {{ business_date('assigned_at') }} as assigned_date,
        {{ business_date('returned_at') }} as returned_date,
        {{ business_date('recycled_at') }} as recycled_date,
        coalesce(attributed_channel, '(none)') as channel

    from {{ ref('fct_lead_to_cash') }}

),

{%- set event_dates = ['created_date', 'mql_date', 'sql_date', 'opportunity_date', 'order_date',
                       'paid_date', 'assigned_date', 'returned_date', 'recycled_date'] %}
{%- set measures = funnel_measures() %}

events as (

    {%- for event_date in event_dates %}
    {#- each measure counts on its own event date's rows only #}
    {%- set columns = [] %}
    {%- for name, spec in measures.items() %}
    {%- do columns.append((spec.expr if spec.date == event_date else '0') ~ ' as ' ~ name) %}
    {%- endfor %}
    select
        {{ event_date }} as activity_date,
        region,
        business_unit,
        channel,
        {{ columns | join(',\n        ') }}

    from facts
    where {{ event_date }} is not null
    {% if not loop.last %}
    union all
    {% endif %}
    {%- endfor %}

),

daily as (

    select
        activity_date,
        region,
        business_unit,
        channel,
        {%- for name in measures %}
        sum({{ name }}) as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from events
    group by
        activity_date,
        region,
        business_unit,
        channel

),

final as (

    select
        cast(activity_date as date) as activity_date,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,
        cast(channel as {{ dbt.type_string() }}) as channel,
        {%- for name, spec in measures.items() %}
        cast({{ name }} as {{ spec.type }}) as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from daily

)

select * from final
