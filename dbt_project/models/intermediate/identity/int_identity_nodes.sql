{#-
    Every source lead identity resolution works on, one row each: the live MA leads
    (stg_ma__leads) and CRM leads (stg_crm__leads), with the identifiers that can link them
    normalized the same way on both sides (e-mail trimmed and lower case; phones arrive in E.164
    from the loader) and the time each was first known (`first_seen_at`: MA creation; for a CRM
    lead its assignment, else its last change, as CRM exports carry no creation time).

    `node_rank` orders all of them by first_seen_at (unknown last), then node_key: the person key
    of a cluster is its first-ranked lead (int_lead_identity), so a lead that appears later never
    takes over the key of a person that already exists.
-#}

{{ config(materialized='table') }}

with

ma_leads as (

    select * from {{ ref('stg_ma__leads') }}

),

crm_leads as (

    select * from {{ ref('stg_crm__leads') }}

),

nodes as (

    select
        {{ dbt.concat(["'ma:'", 'lead_id']) }} as node_key,
        'ma' as source_system,
        lead_id as source_lead_id,
        cast(null as {{ dbt.type_string() }}) as claimed_ma_lead_id,
        nullif(lower(trim(email)), '') as email,
        nullif(trim(phone), '') as phone,
        created_at as first_seen_at

    from ma_leads

    union all

    select
        {{ dbt.concat(["'crm:'", 'crm_lead_id']) }} as node_key,
        'crm' as source_system,
        crm_lead_id as source_lead_id,
        nullif(trim(ma_lead_id), '') as claimed_ma_lead_id,
        nullif(lower(trim(email)), '') as email,
        nullif(trim(phone), '') as phone,
        coalesce(assigned_at, updated_at) as first_seen_at

    from crm_leads

),

final as (

    select
        cast(node_key as {{ dbt.type_string() }}) as node_key,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(source_lead_id as {{ dbt.type_string() }}) as source_lead_id,
        cast(claimed_ma_lead_id as {{ dbt.type_string() }}) as claimed_ma_lead_id,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(first_seen_at as {{ dbt.type_timestamp() }}) as first_seen_at,
        cast(
            row_number() over (order by first_seen_at nulls last, node_key) as {{ dbt.type_bigint() }}
        ) as node_rank

    from nodes

)

select * from final
