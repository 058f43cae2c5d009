{#-
    Funnel stage dates of every person (unified lead): the first time any of the person's source
    leads (int_lead_identity) reached each stage, after inference.

    Source date of each stage, the earliest over the person's leads:
      created      MA created_at; a person without MA leads: CRM assigned_at (CRM creates the lead
                   when it is assigned); neither: inferred from the stages below, else the last
                   change of its CRM rows (updated_at)
      mql          MA mql_at
      sql          CRM sql_at: the earliest ever recorded by any version of any of the person's CRM
                   leads (int_crm_lead_stage_history), so a lead returned and re-SQL'd keeps its
                   first SQL date, a later "un-SQL" is ignored, and a second CRM lead entered later
                   for the same person adds no new SQL
      opportunity  created_at of the person's first opportunity over all its CRM leads (created_at,
                   then smallest id); `opportunity_count` counts them all
      order        first ordered_at of the orders of those opportunities
      paid         first paid_at of the payments of those orders

    Re-SQL: `sql_reopened_at` = the latest SQL after a return to marketing, `sql_reopen_count` = how
    many times that happened (int_crm_lead_stage_history); neither moves `sql_at`.

    Inference and out-of-order correction, one rule for both: walking back from the last stage,
    each stage date = the earlier of its own source date and the next stage's corrected date
    (a missing date takes the next stage's). So a later stage implies every earlier one, money
    events keep their recorded dates, and created <= mql <= sql <= opportunity <= order <= paid
    holds for every lead. `<stage>_at_inferred` = the date is not the source's own value for that
    stage (missing and filled, or moved earlier); nothing is dropped.
-#}

{#-
    A table, not a view (the folder default): identity resolution and the stage joins are read
    by several models and by every data test; as a view each reader would recompute them
    (on PostgreSQL each test query also pays for JIT-compiling the whole plan).
-#}
{{ config(materialized='table') }}

with

leads as (

    select * from {{ ref('int_leads_unified') }}

),

identity as (

    select lead_key, source_system, source_lead_id from {{ ref('int_lead_identity') }}

),

ma_leads as (

    select * from {{ ref('stg_ma__leads') }}

),

crm_leads as (

    select * from {{ ref('stg_crm__leads') }}

),

crm_lead_history as (

    select * from {{ ref('int_crm_lead_stage_history') }}

),

opportunities as (

    -- every live opportunity of any of the person's CRM leads
    select
        identity.lead_key,
        opportunities.*

    from {{ ref('stg_crm__opportunities') }} as opportunities
    inner join identity
        on opportunities.crm_lead_id = identity.source_lead_id
        and identity.source_system = 'crm'

),

orders as (

    select * from {{ ref('stg_crm__orders') }}

),

payments as (

    select * from {{ ref('stg_crm__payments') }}

),

ma_dates as (

    -- over every MA lead of the person: the first creation and MQL, the last recycling
    select
        identity.lead_key,
        min(ma_leads.created_at) as created_at,
        min(ma_leads.mql_at) as mql_at,
        max(ma_leads.recycled_at) as recycled_at

    from identity
    inner join ma_leads
        on identity.source_lead_id = ma_leads.lead_id
        and identity.source_system = 'ma'
    group by identity.lead_key

),

crm_dates as (

    -- over every CRM lead of the person: the first assignment and SQL ever recorded, the last
    -- return and re-SQL, the last change
    select
        identity.lead_key,
        min(crm_leads.assigned_at) as assigned_at,
        max(crm_leads.returned_at) as returned_at,
        max(crm_leads.updated_at) as updated_at,
        min(crm_lead_history.first_sql_at) as first_sql_at,
        max(crm_lead_history.last_reopened_at) as last_reopened_at,
        sum(coalesce(crm_lead_history.sql_reopen_count, 0)) as sql_reopen_count

    from identity
    inner join crm_leads
        on identity.source_lead_id = crm_leads.crm_lead_id
        and identity.source_system = 'crm'
    left join crm_lead_history
        on crm_leads.crm_lead_id = crm_lead_history.crm_lead_id
    group by identity.lead_key

),

opportunities_ranked as (

    select
        lead_key,
        opportunity_id,
        account_id,
        created_at,
        amount,
        row_number() over (
            partition by lead_key
            order by created_at, opportunity_id
        ) as opportunity_rank

    from opportunities

),

first_opportunities as (

    select
        lead_key,
        opportunity_id as first_opportunity_id,
        account_id as first_opportunity_account_id,
        created_at as first_opportunity_at,
        amount as first_opportunity_amount

    from opportunities_ranked
    where opportunity_rank = 1

),

opportunity_totals as (

    select
        lead_key,
        count(*) as opportunity_count

    from opportunities
    group by lead_key

),

lead_orders as (

    -- orders of the person's opportunities (orders without a live opportunity belong to no lead)
    select
        opportunities.lead_key,
        orders.order_id,
        orders.ordered_at,
        orders.amount

    from orders
    inner join opportunities
        on orders.opportunity_id = opportunities.opportunity_id

),

order_totals as (

    select
        lead_key,
        min(ordered_at) as first_order_at,
        count(*) as order_count,
        sum(amount) as order_amount

    from lead_orders
    group by lead_key

),

payment_totals as (

    select
        lead_orders.lead_key,
        min(payments.paid_at) as first_paid_at,
        count(*) as payment_count,
        sum(payments.amount) as paid_amount

    from payments
    inner join lead_orders
        on payments.order_id = lead_orders.order_id
    group by lead_orders.lead_key

),

source_dates as (

    select
        leads.lead_key,
        leads.ma_lead_id,
        leads.crm_lead_id,
        coalesce(crm_leads.account_id, first_opportunities.first_opportunity_account_id) as account_id,
        first_opportunities.first_opportunity_id,

        ----------  stage dates as the sources have them (the first over the person's leads)
        -- the first MA lead's creation; a person without MA leads: the first CRM assignment
        coalesce(ma_dates.created_at, crm_dates.assigned_at) as created_at_source,
        ma_dates.mql_at as mql_at_source,
        -- the first SQL ever recorded, not the latest version's
        crm_dates.first_sql_at as sql_at_source,
        first_opportunities.first_opportunity_at as opportunity_at_source,
        order_totals.first_order_at as order_at_source,
        payment_totals.first_paid_at as paid_at_source,
        crm_dates.updated_at as crm_updated_at,

        ----------  other milestones
        crm_dates.assigned_at,
        crm_dates.returned_at,
        ma_dates.recycled_at,
        crm_dates.last_reopened_at as sql_reopened_at,
        coalesce(crm_dates.sql_reopen_count, 0) as sql_reopen_count,

        ----------  amounts and counts
        first_opportunities.first_opportunity_amount as opportunity_amount,
        coalesce(order_totals.order_amount, 0) as order_amount,
        coalesce(payment_totals.paid_amount, 0) as paid_amount,
        coalesce(opportunity_totals.opportunity_count, 0) as opportunity_count,
        coalesce(order_totals.order_count, 0) as order_count,
        coalesce(payment_totals.payment_count, 0) as payment_count

    from leads
    left join ma_dates
        on leads.lead_key = ma_dates.lead_key
    left join crm_dates
        on leads.lead_key = crm_dates.lead_key
    left join crm_leads
        on leads.crm_lead_id = crm_leads.crm_lead_id
    left join first_opportunities
        on leads.lead_key = first_opportunities.lead_key
    left join opportunity_totals
        on leads.lead_key = opportunity_totals.lead_key
    left join order_totals
        on leads.lead_key = order_totals.lead_key
    left join payment_totals
        on leads.lead_key = payment_totals.lead_key

),

-- walk back from the last stage: each date = the earlier of its own and the next stage's
corrected_paid as (

    select
        *,
        paid_at_source as paid_at,
        case
            when order_at_source is null then paid_at_source
            when paid_at_source is null then order_at_source
            when paid_at_source < order_at_source then paid_at_source
            else order_at_source
        end as order_at

    from source_dates

),

corrected_opportunity as (

    select
        *,
        case
            when opportunity_at_source is null then order_at
            when order_at is null then opportunity_at_source
            when order_at < opportunity_at_source then order_at
            else opportunity_at_source
        end as opportunity_at

    from corrected_paid

),

corrected_sql as (

    select
        *,
        case
            when sql_at_source is null then opportunity_at
            when opportunity_at is null then sql_at_source
            when opportunity_at < sql_at_source then opportunity_at
            else sql_at_source
        end as sql_at

    from corrected_opportunity

),

corrected_mql as (

    select
        *,
        case
            when mql_at_source is null then sql_at
            when sql_at is null then mql_at_source
            when sql_at < mql_at_source then sql_at
            else mql_at_source
        end as mql_at

    from corrected_sql

),

corrected_created as (

    select
        *,
        -- a lead with no date at all (a CRM lead never assigned, with no later stage): the CRM
        -- row's last change is the only time it is known to exist
        coalesce(
            case
                when created_at_source is null then mql_at
                when mql_at is null then created_at_source
                when mql_at < created_at_source then mql_at
                else created_at_source
            end,
            crm_updated_at
        ) as created_at

    from corrected_mql

),

final as (

    select
        lead_key,
        ma_lead_id,
        crm_lead_id,
        account_id,
        first_opportunity_id,

        ----------  stage dates after inference (naive UTC)
        created_at,
        mql_at,
        sql_at,
        opportunity_at,
        order_at,
        paid_at,

        ----------  the date is not the source's own value (missing and filled, or moved earlier)
        case
            when created_at is null then false
            when created_at_source is null then true
            else created_at < created_at_source
        end as created_at_inferred,
        case
            when mql_at is null then false
            when mql_at_source is null then true
            else mql_at < mql_at_source
        end as mql_at_inferred,
        case
            when sql_at is null then false
            when sql_at_source is null then true
            else sql_at < sql_at_source
        end as sql_at_inferred,
        case
            when opportunity_at is null then false
            when opportunity_at_source is null then true
            else opportunity_at < opportunity_at_source
        end as opportunity_at_inferred,
        case
            when order_at is null then false
            when order_at_source is null then true
            else order_at < order_at_source
        end as order_at_inferred,
        -- a source date later than the next stage's (out of order) was moved earlier
        (
            (mql_at_source is not null and mql_at < mql_at_source)
            or (sql_at_source is not null and sql_at < sql_at_source)
            or (opportunity_at_source is not null and opportunity_at < opportunity_at_source)
            or (order_at_source is not null and order_at < order_at_source)
            or (created_at_source is not null and created_at < created_at_source)
        ) as stage_dates_corrected,

        ----------  stage dates as the sources have them
        created_at_source,
        mql_at_source,
        sql_at_source,
        opportunity_at_source,
        order_at_source,
        paid_at_source,

        ----------  other milestones (naive UTC)
        assigned_at,
        returned_at,
        recycled_at,

        ----------  re-SQL after a return to marketing (the first SQL stays in sql_at)
        sql_reopened_at,
        cast(sql_reopen_count as integer) as sql_reopen_count,

        ----------  amounts (currency as recorded, CNY by default) and counts
        cast(opportunity_amount as decimal(18, 2)) as opportunity_amount,
        cast(order_amount as decimal(18, 2)) as order_amount,
        cast(paid_amount as decimal(18, 2)) as paid_amount,
        cast(opportunity_count as integer) as opportunity_count,
        cast(order_count as integer) as order_count,
        cast(payment_count as integer) as payment_count

    from corrected_created

)

select * from final
