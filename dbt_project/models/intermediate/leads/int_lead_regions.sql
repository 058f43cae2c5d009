{#-
    One region (branch office, 分公司) and one business unit (事业部) per person, so every
    mart groups numerators and denominators the same way. Region and BU are resolved separately,
    each from the first source that gives a known code (one listed in the `regions` /
    `business_units` seeds; an unknown code counts as missing and falls through):

      region:         owner -> account -> province -> campaign -> 'UNKNOWN'
      business_unit:  owner -> account -> campaign -> industry -> 'UNKNOWN'

    owner     the person's first CRM lead's owner (stg_crm__users), when it is assigned
    account   that CRM lead's account, else the account of the person's first opportunity (over
              all its CRM leads, int_lead_identity)
    province  the person's first MA lead's province through the `province_regions` seed
    campaign  that MA lead's utm_campaign, when campaign spend books that campaign to exactly one
              region (or BU): a region- or BU-specific campaign
    industry  the MA lead's industry (else the account's) through `industry_business_units`
    A lead that maps nowhere gets 'UNKNOWN' and is kept. `region_source` / `business_unit_source`
    say which source decided. The precedence is macros/regions.sql, shared with int_deal_regions
    (deals without a lead: owner -> account, and the account's industry for the BU).
-#}

{#- A table, not a view (the folder default): see int_lead_stages.sql. -#}
{{ config(materialized='table') }}

with

leads as (

    select * from {{ ref('int_leads_unified') }}

),

ma_leads as (

    select * from {{ ref('stg_ma__leads') }}

),

crm_leads as (

    select * from {{ ref('stg_crm__leads') }}

),

identity as (

    select lead_key, source_lead_id as crm_lead_id
    from {{ ref('int_lead_identity') }}
    where source_system = 'crm'

),

opportunities as (

    -- the opportunities of every CRM lead of the person
    select
        identity.lead_key,
        opportunities.*

    from {{ ref('stg_crm__opportunities') }} as opportunities
    inner join identity
        on opportunities.crm_lead_id = identity.crm_lead_id

),

users as (

    select * from {{ ref('stg_crm__users') }}

),

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

campaign_spend as (

    select * from {{ ref('stg_ma__campaign_spend') }}

),

regions as (

    select region from {{ ref('regions') }}

),

business_units as (

    select business_unit from {{ ref('business_units') }}

),

province_regions as (

    select province, region from {{ ref('province_regions') }}

),

industry_business_units as (

    select industry, business_unit from {{ ref('industry_business_units') }}

),

first_opportunity_accounts as (

    select
        lead_key,
        account_id,
        row_number() over (
            partition by lead_key
            order by created_at, opportunity_id
        ) as opportunity_rank

    from opportunities

),

campaign_regions as (

    -- campaigns whose spend is booked to exactly one region
    select
        utm_campaign,
        min(region) as region

    from campaign_spend
    where region is not null
        and utm_campaign is not null
    group by utm_campaign
    having count(distinct region) = 1

),

campaign_business_units as (

    -- campaigns whose spend is booked to exactly one business unit
    select
        utm_campaign,
        min(business_unit) as business_unit

    from campaign_spend
    where business_unit is not null
        and utm_campaign is not null
    group by utm_campaign
    having count(distinct business_unit) = 1

),

lead_attributes as (

    select
        leads.lead_key,
        crm_leads.owner_id,
        coalesce(crm_leads.account_id, first_opportunity_accounts.account_id) as account_id,
        nullif(trim(ma_leads.province), '') as province,
        nullif(trim(ma_leads.utm_campaign), '') as utm_campaign,
        nullif(trim(ma_leads.industry), '') as ma_industry

    from leads
    left join ma_leads
        on leads.ma_lead_id = ma_leads.lead_id
    left join crm_leads
        on leads.crm_lead_id = crm_leads.crm_lead_id
    left join first_opportunity_accounts
        on leads.lead_key = first_opportunity_accounts.lead_key
        and first_opportunity_accounts.opportunity_rank = 1

),

candidates as (

    -- each candidate source's code, kept only when it is a known region / business unit
    select
        lead_attributes.lead_key,
        lead_attributes.owner_id,
        lead_attributes.account_id,
        owner_region.region as owner_region,
        account_region.region as account_region,
        province_region.region as province_region,
        campaign_region.region as campaign_region,
        owner_bu.business_unit as owner_business_unit,
        account_bu.business_unit as account_business_unit,
        campaign_bu.business_unit as campaign_business_unit,
        industry_bu.business_unit as industry_business_unit

    from lead_attributes
    left join users
        on lead_attributes.owner_id = users.user_id
    left join accounts
        on lead_attributes.account_id = accounts.account_id
    left join province_regions
        on lead_attributes.province = province_regions.province
    left join campaign_regions
        on lead_attributes.utm_campaign = campaign_regions.utm_campaign
    left join campaign_business_units
        on lead_attributes.utm_campaign = campaign_business_units.utm_campaign
    left join industry_business_units
        on coalesce(lead_attributes.ma_industry, nullif(trim(accounts.industry), '')) = industry_business_units.industry
    left join regions as owner_region
        on users.region = owner_region.region
    left join regions as account_region
        on accounts.region = account_region.region
    left join regions as province_region
        on province_regions.region = province_region.region
    left join regions as campaign_region
        on campaign_regions.region = campaign_region.region
    left join business_units as owner_bu
        on users.business_unit = owner_bu.business_unit
    left join business_units as account_bu
        on accounts.business_unit = account_bu.business_unit
    left join business_units as campaign_bu
        on campaign_business_units.business_unit = campaign_bu.business_unit
    left join business_units as industry_bu
        on industry_business_units.business_unit = industry_bu.business_unit

),

final as (

    select
        cast(lead_key as {{ dbt.type_string() }}) as lead_key,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        {{ first_known_code('region', ['owner', 'account', 'province', 'campaign']) }} as region,
        {{ first_known_source('region', ['owner', 'account', 'province', 'campaign']) }} as region_source,
        {{ first_known_code('business_unit', ['owner', 'account', 'campaign', 'industry']) }} as business_unit,
        {{ first_known_source('business_unit', ['owner', 'account', 'campaign', 'industry']) }} as business_unit_source

    from candidates

)

select * from final
