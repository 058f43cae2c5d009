{#-
    One row per person (a unified lead) across MA and CRM: the person key, the person's primary
    MA and CRM leads, how its leads were linked and how many there are.

    Who is one person is decided in int_lead_identity (connected components over shared id links,
    e-mails and phones, with the over-merging guards); this model rolls its source leads up:

      ma_lead_id     the person's first MA lead (first seen, then smallest node_key)
      crm_lead_id    the person's first CRM lead (assigned first, then smallest node_key)
      match_method   the strongest link type that joined the person's leads: ma_lead_id > email >
                     phone; `ma_only` / `unmatched_crm` for a person with leads of one system only
      lead_origin    `ma` when the person has an MA lead, else `crm`
      lead_source    the first MA lead's lead_source, `crm_direct` without one

    Every source lead belongs to exactly one person; lead_key is the node_key of the person's
    first-seen lead (`ma:<lead_id>` or `crm:<crm_lead_id>`), see int_lead_identity.
-#}

{#- A table, not a view (the folder default): read by the stage, region, score and deal models. -#}
{{ config(materialized='table') }}

with

identity as (

    select * from {{ ref('int_lead_identity') }}

),

links as (

    select * from {{ ref('int_identity_links') }}
    where is_linkable

),

ma_leads as (

    select lead_id, lead_source from {{ ref('stg_ma__leads') }}

),

members as (

    select
        *,
        row_number() over (
            partition by lead_key, source_system
            order by node_rank
        ) as rank_in_system

    from identity

),

people as (

    select
        lead_key,
        max(case when source_system = 'ma' and rank_in_system = 1 then source_lead_id end) as ma_lead_id,
        max(case when source_system = 'crm' and rank_in_system = 1 then source_lead_id end) as crm_lead_id,
        sum(case when source_system = 'ma' then 1 else 0 end) as ma_lead_count,
        sum(case when source_system = 'crm' then 1 else 0 end) as crm_lead_count,
        max(case when is_oversized_cluster then 1 else 0 end) as is_oversized_cluster

    from members
    group by lead_key

),

used_links as (

    -- the links that joined two leads of one person (1 = id link, 2 = e-mail, 3 = phone)
    select
        from_leads.lead_key,
        min(
            case links.link_type
                when 'ma_lead_id' then 1
                when 'email' then 2
                else 3
            end
        ) as strongest_link

    from links
    inner join identity as from_leads
        on links.node_key = from_leads.node_key
    inner join identity as to_leads
        on links.linked_node_key = to_leads.node_key
    where from_leads.lead_key = to_leads.lead_key
    group by from_leads.lead_key

),

final as (

    select
        cast(people.lead_key as {{ dbt.type_string() }}) as lead_key,
        cast(people.ma_lead_id as {{ dbt.type_string() }}) as ma_lead_id,
        cast(people.crm_lead_id as {{ dbt.type_string() }}) as crm_lead_id,
        cast(
            case
                when people.crm_lead_id is null then 'ma_only'
                when people.ma_lead_id is null then 'unmatched_crm'
                when used_links.strongest_link = 1 then 'ma_lead_id'
                when used_links.strongest_link = 2 then 'email'
                else 'phone'
            end as {{ dbt.type_string() }}
        ) as match_method,
        cast(case when people.ma_lead_id is null then 'crm' else 'ma' end as {{ dbt.type_string() }}) as lead_origin,
        cast(
            case when people.ma_lead_id is null then 'crm_direct' else ma_leads.lead_source end
            as {{ dbt.type_string() }}
        ) as lead_source,
        cast(people.ma_lead_count as integer) as ma_lead_count,
        cast(people.crm_lead_count as integer) as crm_lead_count,
        cast(people.is_oversized_cluster = 1 as {{ dbt.type_boolean() }}) as is_oversized_cluster

    from people
    left join used_links
        on people.lead_key = used_links.lead_key
    left join ma_leads
        on people.ma_lead_id = ma_leads.lead_id

)

select * from final
