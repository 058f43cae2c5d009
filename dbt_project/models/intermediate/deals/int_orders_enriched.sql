{#-
    Every live order (stg_crm__orders), at its own grain: its opportunity's lead, owner, region,
    business unit and channel (int_opportunities_enriched); an order without a live opportunity
    is account-level, reported by its account (int_deal_regions, no owner). Amount as recorded
    and in the reporting currency at the rate valid on the order's business date (int_fx_rates).
-#}

{{ config(materialized='table') }}

with

orders as (

    select * from {{ ref('stg_crm__orders') }}

),

opportunities as (

    select * from {{ ref('int_opportunities_enriched') }}

),

deal_regions as (

    select * from {{ ref('int_deal_regions') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates') }}

),

dated as (

    select
        orders.*,
        {{ business_date('orders.ordered_at') }} as order_date

    from orders

),

joined as (

    select
        dated.order_id,
        opportunities.opportunity_id,
        opportunities.lead_key,
        opportunities.crm_lead_id,
        coalesce(dated.account_id, opportunities.account_id) as account_id,
        opportunities.owner_id,
        dated.ordered_at,
        dated.order_date,
        -- an amount the export names no currency for is in the default (= reporting) currency
        coalesce(dated.currency, '{{ var("reporting_currency") }}') as currency,
        dated.amount,
        fx_rates.rate as fx_rate,
        dated.amount * fx_rates.rate as reporting_amount,
        coalesce(opportunities.region, deal_regions.region, 'UNKNOWN') as region,
        coalesce(opportunities.region_source, deal_regions.region_source, 'unknown') as region_source,
        coalesce(opportunities.business_unit, deal_regions.business_unit, 'UNKNOWN') as business_unit,
        coalesce(
            opportunities.business_unit_source, deal_regions.business_unit_source, 'unknown'
        ) as business_unit_source,
        coalesce(opportunities.attributed_channel, '(none)') as attributed_channel,
        opportunities.lead_created_date

    from dated
    left join opportunities
        on dated.opportunity_id = opportunities.opportunity_id
    left join deal_regions
        on opportunities.opportunity_id is null
        and {{ deal_party_key('cast(null as ' ~ dbt.type_string() ~ ')', 'dated.account_id') }} = deal_regions.deal_party_key
    left join fx_rates
        on coalesce(dated.currency, '{{ var("reporting_currency") }}') = fx_rates.currency
        and dated.order_date >= fx_rates.valid_from
        and (fx_rates.valid_to is null or dated.order_date < fx_rates.valid_to)

),

final as (

    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
        cast(lead_key as {{ dbt.type_string() }}) as lead_key,
        cast(crm_lead_id as {{ dbt.type_string() }}) as crm_lead_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(lead_key is null as {{ dbt.type_boolean() }}) as is_account_level,
        cast(ordered_at as {{ dbt.type_timestamp() }}) as ordered_at,
        cast(order_date as date) as order_date,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(amount as decimal(18, 2)) as amount,
        cast(fx_rate as decimal(18, 6)) as fx_rate,
        cast(reporting_amount as decimal(18, 2)) as reporting_amount,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }}) as reporting_currency,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(region_source as {{ dbt.type_string() }}) as region_source,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,
        cast(business_unit_source as {{ dbt.type_string() }}) as business_unit_source,
        cast(attributed_channel as {{ dbt.type_string() }}) as attributed_channel,
        cast(lead_created_date as date) as lead_created_date

    from joined

)

select * from final
