{#-
    Every live opportunity (stg_crm__opportunities), at its own grain: the lead it belongs to
    (`lead_key`, the person its crm_lead_id belongs to in int_lead_identity; NULL for an account-level
    opportunity, i.e. one without a CRM lead or whose lead is gone), its creation business date,
    its amount as recorded and in the reporting currency (int_fx_rates, the rate valid on the
    business date), and where it is reported:

      region / BU   the lead's (int_lead_regions), else by the deal's owner and account
                    (int_deal_regions: owner -> account [-> account industry for the BU] -> UNKNOWN)
      channel       the lead's attributed channel (int_lead_attribution), '(none)' without a lead
                    or a touch, as int_funnel_daily buckets it
    `lead_created_date` (the lead's creation business day) buckets the cohort amounts.
-#}

{{ config(materialized='table') }}

with

opportunities as (

    select * from {{ ref('stg_crm__opportunities') }}

),

leads as (

    -- every CRM lead with the person it belongs to
    select
        lead_key,
        source_lead_id as crm_lead_id

    from {{ ref('int_lead_identity') }}
    where source_system = 'crm'

),

lead_regions as (

    select * from {{ ref('int_lead_regions') }}

),

lead_stages as (

    select * from {{ ref('int_lead_stages') }}

),

attribution as (

    select * from {{ ref('int_lead_attribution') }}

),

deal_regions as (

    select * from {{ ref('int_deal_regions') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates') }}

),

dated as (

    select
        opportunities.*,
        leads.lead_key,
        {{ business_date('opportunities.created_at') }} as opportunity_date

    from opportunities
    left join leads
        on opportunities.crm_lead_id = leads.crm_lead_id

),

joined as (

    select
        dated.opportunity_id,
        dated.lead_key,
        dated.crm_lead_id,
        dated.account_id,
        dated.owner_id,
        dated.stage,
        dated.is_won,
        dated.created_at,
        dated.opportunity_date,
        dated.closed_at,
        -- an amount the export names no currency for is in the default (= reporting) currency
        coalesce(dated.currency, '{{ var("reporting_currency") }}') as currency,
        dated.amount,
        fx_rates.rate as fx_rate,
        dated.amount * fx_rates.rate as reporting_amount,
        coalesce(lead_regions.region, deal_regions.region, 'UNKNOWN') as region,
        coalesce(lead_regions.region_source, deal_regions.region_source, 'unknown') as region_source,
        coalesce(lead_regions.business_unit, deal_regions.business_unit, 'UNKNOWN') as business_unit,
        coalesce(
            lead_regions.business_unit_source, deal_regions.business_unit_source, 'unknown'
        ) as business_unit_source,
        coalesce(attribution.attributed_channel, '(none)') as attributed_channel,
        {{ business_date('lead_stages.created_at') }} as lead_created_date

    from dated
    left join lead_regions
        on dated.lead_key = lead_regions.lead_key
    left join lead_stages
        on dated.lead_key = lead_stages.lead_key
    left join attribution
        on dated.lead_key = attribution.lead_key
    left join deal_regions
        on dated.lead_key is null
        and {{ deal_party_key('dated.owner_id', 'dated.account_id') }} = deal_regions.deal_party_key
    left join fx_rates
        on coalesce(dated.currency, '{{ var("reporting_currency") }}') = fx_rates.currency
        and dated.opportunity_date >= fx_rates.valid_from
        and (fx_rates.valid_to is null or dated.opportunity_date < fx_rates.valid_to)

),

final as (

    select
        cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
        cast(lead_key as {{ dbt.type_string() }}) as lead_key,
        cast(crm_lead_id as {{ dbt.type_string() }}) as crm_lead_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(lead_key is null as {{ dbt.type_boolean() }}) as is_account_level,
        cast(stage as {{ dbt.type_string() }}) as stage,
        cast(is_won as {{ dbt.type_boolean() }}) as is_won,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(opportunity_date as date) as opportunity_date,
        cast(closed_at as {{ dbt.type_timestamp() }}) as closed_at,
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
