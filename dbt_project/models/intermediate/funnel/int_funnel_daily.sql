{#-
    Every funnel measure per business day x region x business unit x attributed channel: the one
    aggregation that fct_funnel_flow, fct_funnel_cohort and fct_channel_roi roll up into periods.
    Only combinations with at least one event have a row.

    Two grains of input, unioned (macro funnel_measures() says which measure reads which):
      lead    int_lead_to_cash, one row per lead: the lead-based counts (leads, mqls, sqls,
              opportunities, orders, paid_leads, new/nurtured, speed to lead, recycling), each on
              the day the lead *first* reached the stage (`<stage>_date`), and the cohort counts
              on the lead's creation day;
      events  int_opportunities_enriched, int_orders_enriched, int_payments_enriched, one row per
              opportunity / order / payment instalment, account-level deals included: the amounts
              in the reporting currency and the event counts (`*_count_all`, `payment_count`), each
              on the event's own business day; the cohort amounts on its lead's creation day.
    A lead's 30k paid in February and 70k in May are 30k in February and 70k in May, and February
    stays 30k when the May payment arrives.

    The list of measures is the single definition; the marts take their columns from it.
-#}
{{ config(materialized='table') }}

with

lead_facts as (

    select
        *,
        {{ business_date('assigned_at') }} as assigned_date,
        {{ business_date('returned_at') }} as returned_date,
        {{ business_date('recycled_at') }} as recycled_date,
        coalesce(attributed_channel, '(none)') as channel

    from {{ ref('int_lead_to_cash') }}

),

opportunity_events as (

    select
        *,
        attributed_channel as channel

    from {{ ref('int_opportunities_enriched') }}

),

order_events as (

    select
        *,
        attributed_channel as channel

    from {{ ref('int_orders_enriched') }}

),

payment_events as (

    select
        *,
        attributed_channel as channel

    from {{ ref('int_payments_enriched') }}

),

{%- set relations = {
    'lead': 'lead_facts',
    'opportunities': 'opportunity_events',
    'orders': 'order_events',
    'payments': 'payment_events',
} %}
{%- set measures = funnel_measures() %}
{#- every (source, day column) pair some measure is bucketed on, in the order of the measures #}
{%- set pairs = [] %}
{%- for name, spec in measures.items() %}
{%- set pair = (spec.get('source', 'lead'), spec.date) %}
{%- if pair not in pairs %}{% do pairs.append(pair) %}{% endif %}
{%- endfor %}

events as (

    {%- for source, event_date in pairs %}
    {#- each measure counts on its own source and event date's rows only #}
    {%- set columns = [] %}
    {%- for name, spec in measures.items() %}
    {%- set own = spec.get('source', 'lead') == source and spec.date == event_date %}
    {%- do columns.append((spec.expr if own else '0') ~ ' as ' ~ name) %}
    {%- endfor %}
    select
        {{ event_date }} as activity_date,
        region,
        business_unit,
        channel,
        {{ columns | join(',\n        ') }}

    from {{ relations[source] }}
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
