{#-
    The lead-grain core: one row per unified lead (int_leads_unified), with its region and
    business unit (int_lead_regions), stage dates after inference (int_lead_stages), amounts,
    velocity, new vs old, recycling and speed to lead, channel attribution (int_lead_attribution)
    and the current lead score (int_lead_scores_current). Timestamps are naive UTC; `*_date`
    columns are business days (L2C_BUSINESS_TZ, default Asia/Shanghai) and day counts are counted
    on them.

    Published as marts.fct_lead_to_cash (a thin select under a contract) and read by
    int_funnel_daily / int_funnel_periods for the lead-based counts (one per lead per stage, at
    first reach): intermediate models never read marts.
-#}

{#- A table, not a view (the folder default): the mart and the funnel models read it. -#}
{{ config(materialized='table') }}


with

leads as (

    select * from {{ ref('int_leads_unified') }}

),

stages as (

    select * from {{ ref('int_lead_stages') }}

),

regions as (

    select * from {{ ref('int_lead_regions') }}

),

attribution as (

    select * from {{ ref('int_lead_attribution') }}

),

scores as (

    select * from {{ ref('int_lead_scores_current') }}

),

opportunities as (

    select opportunity_id, reporting_amount from {{ ref('int_opportunities_enriched') }}

),

order_totals as (

    -- the person's orders and payments in the reporting currency, each event converted at the
    -- rate of its own date (int_orders_enriched / int_payments_enriched)
    select
        lead_key,
        sum(reporting_amount) as reporting_order_amount

    from {{ ref('int_orders_enriched') }}
    where lead_key is not null
    group by lead_key

),

payment_totals as (

    select
        lead_key,
        sum(reporting_amount) as reporting_paid_amount

    from {{ ref('int_payments_enriched') }}
    where lead_key is not null
    group by lead_key

),

speed as (

    -- speed to lead in working hours (seed 003's 48-hour rule on the China calendar)
    select * from {{ ref('int_speed_to_lead') }}

),

joined as (

    select
        leads.lead_key,
        leads.ma_lead_id,
        leads.crm_lead_id,
        stages.account_id,
        stages.first_opportunity_id,
        regions.owner_id,
        leads.match_method,
        leads.lead_origin,
        leads.lead_source,
        leads.ma_lead_count,
        leads.crm_lead_count,
        leads.is_oversized_cluster,
        regions.region,
        regions.region_source,
        regions.business_unit,
        regions.business_unit_source,
        attribution.first_touch_channel,
        attribution.last_touch_channel,
        attribution.attributed_channel,
        scores.lead_score,
        scores.score_band,

        stages.created_at,
        stages.mql_at,
        stages.sql_at,
        stages.opportunity_at,
        stages.order_at,
        stages.paid_at,

        {{ business_date('stages.created_at') }} as created_date,
        {{ business_date('stages.mql_at') }} as mql_date,
        {{ business_date('stages.sql_at') }} as sql_date,
        {{ business_date('stages.opportunity_at') }} as opportunity_date,
        {{ business_date('stages.order_at') }} as order_date,
        {{ business_date('stages.paid_at') }} as paid_date,

        stages.created_at_inferred,
        stages.mql_at_inferred,
        stages.sql_at_inferred,
        stages.opportunity_at_inferred,
        stages.order_at_inferred,
        stages.stage_dates_corrected,

        stages.opportunity_amount,
        stages.order_amount,
        stages.paid_amount,
        first_opportunities.reporting_amount as reporting_opportunity_amount,
        coalesce(order_totals.reporting_order_amount, 0) as reporting_order_amount,
        coalesce(payment_totals.reporting_paid_amount, 0) as reporting_paid_amount,
        stages.opportunity_count,
        stages.order_count,

        stages.assigned_at,
        speed.working_hours_to_assignment,
        speed.working_hours_mql_to_assignment,
        speed.assignment_precedes_lead,
        speed.assignment_precedes_mql,
        speed.saturday_work_city,
        speed.assigned_within_48h,
        speed.assigned_within_48h_of_mql,
        stages.returned_at,
        stages.recycled_at,
        stages.sql_reopened_at,
        stages.sql_reopen_count

    from leads
    inner join stages
        on leads.lead_key = stages.lead_key
    inner join regions
        on leads.lead_key = regions.lead_key
    left join attribution
        on leads.lead_key = attribution.lead_key
    left join scores
        on leads.lead_key = scores.lead_key
    left join speed
        on leads.lead_key = speed.lead_key
    left join opportunities as first_opportunities
        on stages.first_opportunity_id = first_opportunities.opportunity_id
    left join order_totals
        on leads.lead_key = order_totals.lead_key
    left join payment_totals
        on leads.lead_key = payment_totals.lead_key

),

measured as (

    select
        *,

        case
            when paid_at is not null then 'paid'
            when order_at is not null then 'order'
            when opportunity_at is not null then 'opportunity'
            when sql_at is not null then 'sql'
            when mql_at is not null then 'mql'
            else 'lead'
        end as current_stage,

        ----------  velocity: business days between stages
        {{ dbt.datediff('created_date', 'mql_date', 'day') }} as days_lead_to_mql,
        {{ dbt.datediff('mql_date', 'sql_date', 'day') }} as days_mql_to_sql,
        {{ dbt.datediff('sql_date', 'opportunity_date', 'day') }} as days_sql_to_opportunity,
        {{ dbt.datediff('opportunity_date', 'order_date', 'day') }} as days_opportunity_to_order,
        {{ dbt.datediff('order_date', 'paid_date', 'day') }} as days_order_to_paid,
        {{ dbt.datediff('created_date', 'opportunity_date', 'day') }} as days_lead_to_opportunity,
        {{ dbt.datediff('created_date', 'order_date', 'day') }} as days_lead_to_order,

        ----------  new vs old (nurtured) lead: converted less than 30 days after creation
        case
            when sql_at is null then null
            else sql_at < {{ dbt.dateadd('day', 30, 'created_at') }}
        end as is_new_lead_at_sql,
        case
            when opportunity_at is null then null
            else opportunity_at < {{ dbt.dateadd('day', 30, 'created_at') }}
        end as is_new_lead_at_opportunity,

        ----------  recycling: returned by sales (CRM) or recycled by marketing (MA)
        (recycled_at is not null or returned_at is not null) as is_recycled,

        ----------  speed to lead (MA leads only: a CRM-created lead is born assigned): calendar
        ----------  hours here; working hours and the 48-hour rule come from int_speed_to_lead
        case
            when ma_lead_id is not null and assigned_at is not null
                then {{ dbt.datediff('created_at', 'assigned_at', 'minute') }} / 60.0
        end as hours_to_assignment,
        case
            when mql_at is not null and assigned_at is not null and ma_lead_id is not null
                then {{ dbt.datediff('mql_at', 'assigned_at', 'minute') }} / 60.0
        end as hours_mql_to_assignment

    from joined

),

final as (

    select
        ----------  keys and ids
        cast(lead_key as {{ dbt.type_string() }}) as lead_key,
        cast(ma_lead_id as {{ dbt.type_string() }}) as ma_lead_id,
        cast(crm_lead_id as {{ dbt.type_string() }}) as crm_lead_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(first_opportunity_id as {{ dbt.type_string() }}) as first_opportunity_id,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,

        ----------  identity and origin
        cast(match_method as {{ dbt.type_string() }}) as match_method,
        cast(lead_origin as {{ dbt.type_string() }}) as lead_origin,
        cast(lead_source as {{ dbt.type_string() }}) as lead_source,
        cast(ma_lead_count as integer) as ma_lead_count,
        cast(crm_lead_count as integer) as crm_lead_count,
        cast(is_oversized_cluster as {{ dbt.type_boolean() }}) as is_oversized_cluster,

        ----------  region and business unit
        cast(region as {{ dbt.type_string() }}) as region,
        cast(region_source as {{ dbt.type_string() }}) as region_source,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,
        cast(business_unit_source as {{ dbt.type_string() }}) as business_unit_source,

        ----------  channel attribution and lead score
        cast(first_touch_channel as {{ dbt.type_string() }}) as first_touch_channel,
        cast(last_touch_channel as {{ dbt.type_string() }}) as last_touch_channel,
        cast(attributed_channel as {{ dbt.type_string() }}) as attributed_channel,
        cast(lead_score as integer) as lead_score,
        cast(score_band as {{ dbt.type_string() }}) as score_band,

        ----------  stage timestamps after inference (naive UTC)
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(mql_at as {{ dbt.type_timestamp() }}) as mql_at,
        cast(sql_at as {{ dbt.type_timestamp() }}) as sql_at,
        cast(opportunity_at as {{ dbt.type_timestamp() }}) as opportunity_at,
        cast(order_at as {{ dbt.type_timestamp() }}) as order_at,
        cast(paid_at as {{ dbt.type_timestamp() }}) as paid_at,

        ----------  stage business days
        cast(created_date as date) as created_date,
        cast(mql_date as date) as mql_date,
        cast(sql_date as date) as sql_date,
        cast(opportunity_date as date) as opportunity_date,
        cast(order_date as date) as order_date,
        cast(paid_date as date) as paid_date,

        ----------  inference flags
        cast(created_at_inferred as {{ dbt.type_boolean() }}) as created_at_inferred,
        cast(mql_at_inferred as {{ dbt.type_boolean() }}) as mql_at_inferred,
        cast(sql_at_inferred as {{ dbt.type_boolean() }}) as sql_at_inferred,
        cast(opportunity_at_inferred as {{ dbt.type_boolean() }}) as opportunity_at_inferred,
        cast(order_at_inferred as {{ dbt.type_boolean() }}) as order_at_inferred,
        cast(stage_dates_corrected as {{ dbt.type_boolean() }}) as stage_dates_corrected,

        ----------  funnel position
        cast(current_stage as {{ dbt.type_string() }}) as current_stage,

        ----------  amounts
        cast(opportunity_amount as decimal(18, 2)) as opportunity_amount,
        cast(order_amount as decimal(18, 2)) as order_amount,
        cast(paid_amount as decimal(18, 2)) as paid_amount,
        cast(reporting_opportunity_amount as decimal(18, 2)) as reporting_opportunity_amount,
        cast(reporting_order_amount as decimal(18, 2)) as reporting_order_amount,
        cast(reporting_paid_amount as decimal(18, 2)) as reporting_paid_amount,
        cast(opportunity_count as integer) as opportunity_count,
        cast(order_count as integer) as order_count,

        ----------  velocity (business days)
        cast(days_lead_to_mql as integer) as days_lead_to_mql,
        cast(days_mql_to_sql as integer) as days_mql_to_sql,
        cast(days_sql_to_opportunity as integer) as days_sql_to_opportunity,
        cast(days_opportunity_to_order as integer) as days_opportunity_to_order,
        cast(days_order_to_paid as integer) as days_order_to_paid,
        cast(days_lead_to_opportunity as integer) as days_lead_to_opportunity,
        cast(days_lead_to_order as integer) as days_lead_to_order,

        ----------  new vs old, recycling
        cast(is_new_lead_at_sql as {{ dbt.type_boolean() }}) as is_new_lead_at_sql,
        cast(is_new_lead_at_opportunity as {{ dbt.type_boolean() }}) as is_new_lead_at_opportunity,
        cast(is_recycled as {{ dbt.type_boolean() }}) as is_recycled,
        cast(recycled_at as {{ dbt.type_timestamp() }}) as recycled_at,
        cast(returned_at as {{ dbt.type_timestamp() }}) as returned_at,

        ----------  speed to lead
        cast(assigned_at as {{ dbt.type_timestamp() }}) as assigned_at,
        cast(hours_to_assignment as decimal(12, 2)) as hours_to_assignment,
        -- within 48 working hours (int_speed_to_lead); never true for a negative duration
        cast(assigned_within_48h as {{ dbt.type_boolean() }}) as assigned_within_48h,
        cast(hours_mql_to_assignment as decimal(12, 2)) as hours_mql_to_assignment,
        cast(assigned_within_48h_of_mql as {{ dbt.type_boolean() }}) as assigned_within_48h_of_mql,
        cast(working_hours_to_assignment as decimal(12, 2)) as working_hours_to_assignment,
        cast(working_hours_mql_to_assignment as decimal(12, 2)) as working_hours_mql_to_assignment,
        cast(assignment_precedes_lead as {{ dbt.type_boolean() }}) as assignment_precedes_lead,
        cast(assignment_precedes_mql as {{ dbt.type_boolean() }}) as assignment_precedes_mql,
        cast(saturday_work_city as {{ dbt.type_boolean() }}) as saturday_work_city,

        ----------  stage history: SQL reached again after a return (reopened, not a new SQL date)
        cast(sql_reopened_at as {{ dbt.type_timestamp() }}) as sql_reopened_at,
        cast(sql_reopen_count as integer) as sql_reopen_count

    from measured

)

select * from final
