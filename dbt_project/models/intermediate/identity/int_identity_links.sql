{#-
    The evidence of identity resolution: every pair of source leads that share an identifier,
    and whether that identifier may link them.

    Identifiers (int_identity_nodes):
      ma_lead_id  a CRM lead's `ma_lead_id` naming a live MA lead (that MA lead and every CRM lead
                  naming it share it; an id naming a deleted or unknown MA lead links nothing)
      email       the normalized e-mail
      phone       the E.164 phone

    Leads sharing one identifier value are linked as a star: each to the value's first-ranked
    lead (`linked_node_key`, node_rank of int_identity_nodes), so n leads sharing a value give
    n - 1 rows instead of n * (n - 1) / 2 and connect all the same.

    A value matching seed `identity_exclusions` (role addresses such as info@, shared switchboard
    numbers such as 400 hotlines) is kept here with its `exclusion_reason` but never links
    (`is_linkable` false): such a value says nothing about who the person is. int_lead_identity
    clusters over the linkable rows; `is_used` there tells which links made a person.
-#}

{{ config(materialized='table') }}

with

nodes as (

    select * from {{ ref('int_identity_nodes') }}

),

exclusions as (

    select * from {{ ref('identity_exclusions') }}

),

ma_ids as (

    select source_lead_id as ma_lead_id
    from nodes
    where source_system = 'ma'

),

identifiers as (

    -- an MA lead carries its own id, a CRM lead the live MA lead it names
    select node_key, node_rank, 'ma_lead_id' as link_type, source_lead_id as link_value
    from nodes
    where source_system = 'ma'

    union all

    select nodes.node_key, nodes.node_rank, 'ma_lead_id' as link_type, nodes.claimed_ma_lead_id as link_value
    from nodes
    inner join ma_ids
        on nodes.claimed_ma_lead_id = ma_ids.ma_lead_id
    where nodes.source_system = 'crm'

    union all

    select node_key, node_rank, 'email' as link_type, email as link_value
    from nodes
    where email is not null

    union all

    select node_key, node_rank, 'phone' as link_type, phone as link_value
    from nodes
    where phone is not null

),

ranked as (

    select
        *,
        row_number() over (partition by link_type, link_value order by node_rank) as rank_in_value,
        count(*) over (partition by link_type, link_value) as leads_sharing_value

    from identifiers

),

anchors as (

    select link_type, link_value, node_key as anchor_node_key
    from ranked
    where rank_in_value = 1

),

links as (

    select
        ranked.node_key,
        anchors.anchor_node_key as linked_node_key,
        ranked.link_type,
        ranked.link_value,
        ranked.leads_sharing_value

    from ranked
    inner join anchors
        on ranked.link_type = anchors.link_type
        and ranked.link_value = anchors.link_value
    where ranked.rank_in_value > 1

),

excluded as (

    -- the first matching exclusion of each excluded value
    select
        links.link_type,
        links.link_value,
        min(exclusions.reason) as exclusion_reason

    from links
    inner join exclusions
        on links.link_type = exclusions.link_type
        and (
            (
                exclusions.match_on = 'email_local_part'
                and {{ dbt.split_part('links.link_value', "'@'", 1) }} = lower(trim(exclusions.value))
            )
            or (exclusions.match_on = 'value' and links.link_value = lower(trim(exclusions.value)))
            or (
                exclusions.match_on = 'value_prefix'
                and links.link_value like {{ dbt.concat(['lower(trim(exclusions.value))', "'%'"]) }}
            )
        )
    group by links.link_type, links.link_value

),

final as (

    select
        cast(links.node_key as {{ dbt.type_string() }}) as node_key,
        cast(links.linked_node_key as {{ dbt.type_string() }}) as linked_node_key,
        cast(links.link_type as {{ dbt.type_string() }}) as link_type,
        cast(links.link_value as {{ dbt.type_string() }}) as link_value,
        cast(links.leads_sharing_value as {{ dbt.type_bigint() }}) as leads_sharing_value,
        cast(excluded.exclusion_reason as {{ dbt.type_string() }}) as exclusion_reason,
        cast(excluded.exclusion_reason is null as {{ dbt.type_boolean() }}) as is_linkable

    from links
    left join excluded
        on links.link_type = excluded.link_type
        and links.link_value = excluded.link_value

)

select * from final
