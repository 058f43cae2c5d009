{#-
    Building blocks of the funnel marts (models/marts/funnel): rates, medians and the rollup rows
    with 'ALL'. Portable SQL only; the one engine difference (median) is adapter-dispatched.
-#}

{#-
    numerator / denominator as decimal(18, scale), rounded half away from zero; NULL when the
    denominator is 0 or NULL (a rate whose denominator is 0 is NULL, never 0 or an
    error). Operands are counts or decimals with at most 10 decimal places.

    The result must be the same on every engine, to the last digit. PostgreSQL divides numerics
    exactly, then the cast rounds. DuckDB divides decimals in DOUBLE, so 5461.70 / 20 = 273.085
    became 273.08499.. and rounded to 273.08 where PostgreSQL says 273.09. The DuckDB variant
    therefore scales both operands to exact integers (HUGEINT) and rounds with integer division.
-#}
{% macro safe_divide(numerator, denominator, scale=6) -%}
    {{ return(adapter.dispatch('safe_divide', 'l2c')(numerator, denominator, scale)) }}
{%- endmacro %}

{% macro default__safe_divide(numerator, denominator, scale) -%}
    cast(
        case
            when coalesce({{ denominator }}, 0) = 0 then null
            else cast({{ numerator }} as decimal(38, 10)) / cast({{ denominator }} as decimal(38, 10))
        end
    as decimal(18, {{ scale }}))
{%- endmacro %}

{% macro duckdb__safe_divide(numerator, denominator, scale) -%}
    {%- set n = 'cast(round(cast(' ~ numerator ~ ' as decimal(38, 10)) * 10000000000) as hugeint)' -%}
    {%- set d = 'cast(round(cast(' ~ denominator ~ ' as decimal(38, 10)) * 10000000000) as hugeint)' -%}
    cast(
        case
            when coalesce({{ denominator }}, 0) = 0 then null
            else
                cast(
                    sign({{ n }}) * sign({{ d }})
                    * ((abs({{ n }}) * {{ 2 * 10 ** scale }} + abs({{ d }})) // (2 * abs({{ d }})))
                as decimal(38, 0)) * cast('0.{{ '0' * (scale - 1) }}1' as decimal(38, {{ scale }}))
        end
    as decimal(18, {{ scale }}))
{%- endmacro %}


{#-
    Median of a numeric expression (an aggregate; NULLs ignored). `percentile_cont(0.5) within
    group (order by x)` is standard SQL and means the same on PostgreSQL and DuckDB (the average of
    the two middle values for an even count); Spark spells it percentile(x, 0.5).
-#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'l2c')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro spark__median(expression) -%}
    percentile({{ expression }}, 0.5)
{%- endmacro %}


{#-
    Every rollup level of `relation` over the `rollup` columns, as a UNION ALL of GROUP BYs (one
    per subset of `rollup`; 2^n of them), with 'ALL' in each rolled-up column:

        grouping_rollup('events', ['period_grain', 'period_start'], ['region', 'business_unit'],
                        ['sum(leads) as leads'])

    gives the (region, business_unit) rows, then (region, 'ALL'), ('ALL', business_unit) and
    ('ALL', 'ALL'). The aggregates are computed from `relation`'s rows at every level (not summed
    from the finer level), so medians and distinct counts roll up correctly too. GROUPING SETS
    would say the same, but it marks rolled-up columns with NULL, which collides with real NULLs.
-#}
{% macro grouping_rollup(relation, group_by, rollup, aggregates) -%}
    {%- set subsets = [] -%}
    {%- for mask in range(2 ** (rollup | length)) -%}
        {%- set rolled = [] -%}
        {%- for column in rollup -%}
            {%- if (mask // (2 ** loop.index0)) % 2 == 1 -%}{%- do rolled.append(column) -%}{%- endif -%}
        {%- endfor -%}
        {%- do subsets.append(rolled) -%}
    {%- endfor -%}
    {%- for rolled in subsets %}
    select
        {%- for column in group_by %}
        {{ column }},
        {%- endfor %}
        {%- for column in rollup %}
        {%- if column in rolled %}
        cast('ALL' as {{ dbt.type_string() }}) as {{ column }},
        {%- else %}
        cast({{ column }} as {{ dbt.type_string() }}) as {{ column }},
        {%- endif %}
        {%- endfor %}
        {{ aggregates | join(',\n        ') }}
    from {{ relation }}
    {%- set keys = group_by + (rollup | reject('in', rolled) | list) %}
    {%- if keys %}
    group by
        {{ keys | join(',\n        ') }}
    {%- endif %}
    {%- if not loop.last %}

    union all
    {% endif %}
    {%- endfor %}
{%- endmacro %}


{#- The five period grains of the funnel marts, finest first, and their dim_date column. -#}
{% macro funnel_period_grains() -%}
    {{ return([
        ('day', 'date_day'),
        ('week', 'iso_week_start'),
        ('month', 'month_start'),
        ('quarter', 'quarter_start'),
        ('year', 'year_start'),
    ]) }}
{%- endmacro %}


{#-
    The funnel measures of int_funnel_daily: name -> the event rows it is computed over (`source`),
    the day column of those rows the event is bucketed on (`date`), the per-row expression and
    the type. Every measure is additive (a count or an amount), so any period or rollup is the sum
    of its days and cells. Sources:

      lead           one row per lead (int_lead_to_cash, plus assigned_date / returned_date /
                     recycled_date): the lead-based counts, one per lead per stage at first reach
      opportunities  one row per opportunity (int_opportunities_enriched), account-level included
      orders         one row per order (int_orders_enriched)
      payments       one row per payment instalment (int_payments_enriched)

    Amounts come from the event rows, in the reporting currency (`reporting_amount`), on each
    event's own business date (flow) or on its lead's creation date (cohort: `lead_created_date`,
    NULL for account-level deals, which belong to no cohort). No measure depends on a lead's
    "first" money event, so a past period never changes when a later event arrives.
-#}
{% macro funnel_measures() -%}
    {%- set count = dbt.type_bigint() -%}
    {%- set amount = 'decimal(18, 2)' -%}
    {{ return({
        'leads':                           {'date': 'created_date', 'expr': '1', 'type': count},
        'mqls':                            {'date': 'mql_date', 'expr': '1', 'type': count},
        'sqls':                            {'date': 'sql_date', 'expr': '1', 'type': count},
        'opportunities':                   {'date': 'opportunity_date', 'expr': '1', 'type': count},
        'orders':                          {'date': 'order_date', 'expr': '1', 'type': count},
        'paid_leads':                      {'date': 'paid_date', 'expr': '1', 'type': count},
        'opportunity_amount':              {'source': 'opportunities', 'date': 'opportunity_date', 'expr': 'coalesce(reporting_amount, 0)', 'type': amount},
        'order_amount':                    {'source': 'orders', 'date': 'order_date', 'expr': 'coalesce(reporting_amount, 0)', 'type': amount},
        'collected_amount':                {'source': 'payments', 'date': 'payment_date', 'expr': 'coalesce(reporting_amount, 0)', 'type': amount},
        'sqls_from_new_leads':             {'date': 'sql_date', 'expr': 'case when is_new_lead_at_sql then 1 else 0 end', 'type': count},
        'sqls_from_nurtured_leads':        {'date': 'sql_date', 'expr': 'case when is_new_lead_at_sql then 0 else 1 end', 'type': count},
        'opportunities_from_new_leads':    {'date': 'opportunity_date', 'expr': 'case when is_new_lead_at_opportunity then 1 else 0 end', 'type': count},
        'opportunities_from_nurtured_leads': {'date': 'opportunity_date', 'expr': 'case when is_new_lead_at_opportunity then 0 else 1 end', 'type': count},
        'mqls_assigned_within_48h':        {'date': 'mql_date', 'expr': 'case when assigned_within_48h_of_mql then 1 else 0 end', 'type': count},
        'leads_assigned':                  {'date': 'assigned_date', 'expr': '1', 'type': count},
        'leads_returned':                  {'date': 'returned_date', 'expr': '1', 'type': count},
        'leads_recycled':                  {'date': 'recycled_date', 'expr': '1', 'type': count},
        'leads_reopened':                  {'date': 'sql_date', 'expr': 'case when returned_at < sql_at or recycled_at < sql_at then 1 else 0 end', 'type': count},
        'opportunity_count_all':           {'source': 'opportunities', 'date': 'opportunity_date', 'expr': '1', 'type': count},
        'order_count_all':                 {'source': 'orders', 'date': 'order_date', 'expr': '1', 'type': count},
        'payment_count':                   {'source': 'payments', 'date': 'payment_date', 'expr': '1', 'type': count},
        'cohort_mqls':                     {'date': 'created_date', 'expr': 'case when mql_at is not null then 1 else 0 end', 'type': count},
        'cohort_sqls':                     {'date': 'created_date', 'expr': 'case when sql_at is not null then 1 else 0 end', 'type': count},
        'cohort_opportunities':            {'date': 'created_date', 'expr': 'case when opportunity_at is not null then 1 else 0 end', 'type': count},
        'cohort_orders':                   {'date': 'created_date', 'expr': 'case when order_at is not null then 1 else 0 end', 'type': count},
        'cohort_paid_leads':               {'date': 'created_date', 'expr': 'case when paid_at is not null then 1 else 0 end', 'type': count},
        'cohort_opportunity_amount':       {'source': 'opportunities', 'date': 'lead_created_date', 'expr': 'coalesce(reporting_amount, 0)', 'type': amount},
        'cohort_order_amount':             {'source': 'orders', 'date': 'lead_created_date', 'expr': 'coalesce(reporting_amount, 0)', 'type': amount},
        'cohort_collected_amount':         {'source': 'payments', 'date': 'lead_created_date', 'expr': 'coalesce(reporting_amount, 0)', 'type': amount},
        'cohort_days_to_opportunity':      {'date': 'created_date', 'expr': 'coalesce(days_lead_to_opportunity, 0)', 'type': count},
        'cohort_days_to_order':            {'date': 'created_date', 'expr': 'coalesce(days_lead_to_order, 0)', 'type': count},
    }) }}
{%- endmacro %}


{#-
    The rates both funnel marts publish: name -> (numerator, denominator) measure names, without
    the `cohort_` prefix (the cohort mart prefixes them, and its `leads` is the cohort size).
    Seed 000's four ROI views and seed 003's lead->order.
-#}
{% macro funnel_rates() -%}
    {{ return({
        'lead_to_mql_rate': ('mqls', 'leads'),
        'mql_to_sql_rate': ('sqls', 'mqls'),
        'sql_to_opportunity_rate': ('opportunities', 'sqls'),
        'opportunity_to_order_rate': ('orders', 'opportunities'),
        'order_to_payment_rate': ('paid_leads', 'orders'),
        'mql_to_opportunity_rate': ('opportunities', 'mqls'),
        'mql_to_order_rate': ('orders', 'mqls'),
        'lead_to_order_rate': ('orders', 'leads'),
    }) }}
{%- endmacro %}


{#-
    The date spine of the funnel marts: every period of `periods` (int_funnel_periods) x every
    region of `regions` (dim_region) x every business unit of `business_units`
    (dim_business_unit), 'ALL' included on both sides. The caller passes the relations (its own
    ref()s), so the model's lineage shows them.
-#}
{% macro funnel_spine(periods, regions, business_units) -%}
    select
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.is_complete,
        regions.region,
        business_units.business_unit

    from (
        select distinct period_grain, period_start, period_end, is_complete
        from {{ periods }}
    ) as periods
    cross join (
        select region from {{ regions }}
        union all
        select 'ALL' as region
    ) as regions
    cross join (
        select business_unit from {{ business_units }}
        union all
        select 'ALL' as business_unit
    ) as business_units
{%- endmacro %}


{#-
    The period x region x business-unit cube every funnel mart with a date spine is made of:
    `relation`'s rows bucketed into all five grains on `date_column` (`periods`,
    int_funnel_periods), the `aggregates` ("<expression> as <name>") computed at every rollup
    level (grouping_rollup), and joined onto the full spine (funnel_spine over `periods`,
    `regions`, `business_units`), so a period x cell without rows is present with NULL aggregates
    (the marts coalesce counts to 0). Columns: period_grain, period_start, period_end,
    is_complete, region, business_unit, then one per aggregate. The caller passes every relation (no ref() in here).
-#}
{% macro funnel_cube(relation, date_column, aggregates, periods, regions, business_units) -%}
    {%- set names = [] -%}
    {%- for aggregate in aggregates -%}{%- do names.append(aggregate.split(' as ')[-1] | trim) -%}{%- endfor -%}
    {%- set periodized -%}
        (
            select
                periods.period_grain,
                periods.period_start,
                source_rows.*
            from {{ relation }} as source_rows
            inner join {{ periods }} as periods
                on source_rows.{{ date_column }} = periods.date_day
        ) as periodized
    {%- endset %}
    select
        spine.period_grain,
        spine.period_start,
        spine.period_end,
        spine.is_complete,
        spine.region,
        spine.business_unit,
        {%- for name in names %}
        rolled.{{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}

    from (
        {{ funnel_spine(periods, regions, business_units) }}
    ) as spine
    left join (
        {{ grouping_rollup(periodized, ['period_grain', 'period_start'], ['region', 'business_unit'], aggregates) }}
    ) as rolled
        on spine.period_grain = rolled.period_grain
        and spine.period_start = rolled.period_start
        and spine.region = rolled.region
        and spine.business_unit = rolled.business_unit
{%- endmacro %}
