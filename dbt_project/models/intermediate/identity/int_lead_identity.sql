{#-
    Person-level identity: every source lead (int_identity_nodes) with the person it belongs to.

    A person is a connected component of the linkable links of int_identity_links: leads that
    share an id link, a normalized e-mail or an E.164 phone, directly or through each other, are
    one person (components: int_identity_components).

    Over-merging guard: a component larger than `identity_max_cluster_size` leads (var, from
    L2C_IDENTITY_MAX_CLUSTER_SIZE, default 10) is flagged (`is_oversized_cluster`) and not merged
    by e-mail or phone: its leads fall back to the id links alone (an MA lead with the CRM leads
    that name it; every other lead on its own). A component the label propagation did not finish
    (int_identity_components.is_unconverged) is necessarily larger than the limit and is flagged
    the same way.

    `lead_key` (the person key) is the node_key (`ma:<lead_id>` / `crm:<crm_lead_id>`) of the
    person's first-ranked lead: the one first seen (int_identity_nodes), ties by node_key. A lead
    that appears later and links in never changes it; when a new link joins two existing people,
    the one first seen keeps its key and the other's leads move to it (this model maps every
    source lead to its current person key).
-#}

{{ config(materialized='table') }}

{%- set max_cluster_size = var('identity_max_cluster_size') | int -%}

with

nodes as (

    select * from {{ ref('int_identity_nodes') }}

),

components as (

    select * from {{ ref('int_identity_components') }}

),

component_sizes as (

    select
        component_label,
        count(*) as component_size,
        max(case when is_unconverged then 1 else 0 end) as is_unconverged

    from components
    group by component_label

),

id_groups as (

    -- the fallback of an oversized component: an MA lead with the CRM leads naming it
    select
        nodes.node_rank,
        coalesce(claimed.node_key, nodes.node_key) as id_group

    from nodes
    left join nodes as claimed
        on nodes.claimed_ma_lead_id = claimed.source_lead_id
        and nodes.source_system = 'crm'
        and claimed.source_system = 'ma'

),

flagged as (

    select
        nodes.node_rank,
        components.component_label,
        id_groups.id_group,
        component_sizes.component_size,
        (
            component_sizes.component_size > {{ max_cluster_size }}
            or component_sizes.is_unconverged = 1
        ) as is_oversized_cluster

    from nodes
    inner join components
        on nodes.node_rank = components.node_rank
    inner join component_sizes
        on components.component_label = component_sizes.component_label
    inner join id_groups
        on nodes.node_rank = id_groups.node_rank

),

assigned as (

    select
        node_rank,
        component_size,
        is_oversized_cluster,
        case
            when is_oversized_cluster then min(node_rank) over (partition by id_group)
            else component_label
        end as person_rank

    from flagged

),

final as (

    select
        cast(persons.node_key as {{ dbt.type_string() }}) as lead_key,
        cast(nodes.node_key as {{ dbt.type_string() }}) as node_key,
        cast(nodes.source_system as {{ dbt.type_string() }}) as source_system,
        cast(nodes.source_lead_id as {{ dbt.type_string() }}) as source_lead_id,
        cast(nodes.first_seen_at as {{ dbt.type_timestamp() }}) as first_seen_at,
        cast(nodes.node_rank as {{ dbt.type_bigint() }}) as node_rank,
        cast(nodes.node_key = persons.node_key as {{ dbt.type_boolean() }}) as is_person_key_lead,
        cast(count(*) over (partition by persons.node_key) as integer) as person_lead_count,
        cast(assigned.component_size as integer) as component_size,
        cast(assigned.is_oversized_cluster as {{ dbt.type_boolean() }}) as is_oversized_cluster

    from nodes
    inner join assigned
        on nodes.node_rank = assigned.node_rank
    inner join nodes as persons
        on assigned.person_rank = persons.node_rank

)

select * from final
