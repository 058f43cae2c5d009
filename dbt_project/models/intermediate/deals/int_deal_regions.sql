{#-
    Region and business unit of a deal that belongs to no lead (an account-level opportunity, or
    an order without a live opportunity), by the precedence int_lead_regions uses for a lead
    (macros/regions.sql) over the sources a deal has:

      region:         owner -> account -> 'UNKNOWN'
      business_unit:  owner -> account -> industry (the account's, `industry_business_units`) -> 'UNKNOWN'

    A code counts only when the `regions` / `business_units` seed knows it. One row per
    distinct (owner_id, account_id) of such deals; `deal_party_key` joins it (NULL parts as '').
-#}

with

opportunities as (

    select * from {{ ref('stg_crm__opportunities') }}

),

orders as (

    select * from {{ ref('stg_crm__orders') }}

),

users as (

    select * from {{ ref('stg_crm__users') }}

),

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

regions as (

    select region from {{ ref('regions') }}

),

business_units as (

    select business_unit from {{ ref('business_units') }}

),

industry_business_units as (

    select industry, business_unit from {{ ref('industry_business_units') }}

),

parties as (

    -- every deal's owner and account (the lead's deals too: cheap, and it keeps the key total)
    select
        owner_id,
        account_id

    from opportunities

    union

    select
        cast(null as {{ dbt.type_string() }}) as owner_id,
        account_id

    from orders

),

candidates as (

    select
        parties.owner_id,
        parties.account_id,
        owner_region.region as owner_region,
        account_region.region as account_region,
        owner_bu.business_unit as owner_business_unit,
        account_bu.business_unit as account_business_unit,
        industry_bu.business_unit as industry_business_unit

    from parties
    left join users
        on parties.owner_id = users.user_id
    left join accounts
        on parties.account_id = accounts.account_id
    left join industry_business_units
        on nullif(trim(accounts.industry), '') = industry_business_units.industry
    left join regions as owner_region
        on users.region = owner_region.region
    left join regions as account_region
        on accounts.region = account_region.region
    left join business_units as owner_bu
        on users.business_unit = owner_bu.business_unit
    left join business_units as account_bu
        on accounts.business_unit = account_bu.business_unit
    left join business_units as industry_bu
        on industry_business_units.business_unit = industry_bu.business_unit

),

final as (

    select
        cast(
            {{ deal_party_key('owner_id', 'account_id') }} as {{ dbt.type_string() }}
        ) as deal_party_key,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        {{ first_known_code('region', ['owner', 'account']) }} as region,
        {{ first_known_source('region', ['owner', 'account']) }} as region_source,
        {{ first_known_code('business_unit', ['owner', 'account', 'industry']) }} as business_unit,
        {{ first_known_source('business_unit', ['owner', 'account', 'industry']) }} as business_unit_source

    from candidates

)

select * from final
