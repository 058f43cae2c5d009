{#-
    Connected components of the linkable identity links (int_identity_links), by label
    propagation: one row per source lead (int_identity_nodes.node_rank) with its component label.

    Each lead starts with its own node_rank as label; in every round it takes the smallest label
    among itself and the leads it is linked to. After n rounds every component of at most n + 1
    leads carries one label, the rank of its first-ranked lead. The rounds are unrolled
    `identity_max_cluster_size` times (var, from L2C_IDENTITY_MAX_CLUSTER_SIZE, default 10), so
    every component within the limit is complete; a component still carrying two labels after the
    last round is larger than the limit and is marked `is_unconverged` (all its leads: every label
    of such a component borders another, and edges holds both directions of every link). Each round reads the previous one once (self-links
    carry a lead's own label), so the unrolled query grows linearly with the rounds.

    A table: int_lead_identity reads it several times.
-#}

{{ config(materialized='table') }}

{%- set rounds = var('identity_max_cluster_size') | int -%}

with

nodes as (

    select node_key, node_rank from {{ ref('int_identity_nodes') }}

),

links as (

    select node_key, linked_node_key from {{ ref('int_identity_links') }}
    where is_linkable

),

linked_ranks as (

    select
        from_nodes.node_rank as from_rank,
        to_nodes.node_rank as to_rank

    from links
    inner join nodes as from_nodes
        on links.node_key = from_nodes.node_key
    inner join nodes as to_nodes
        on links.linked_node_key = to_nodes.node_key

),

edges as (

    -- both directions of every link, plus each lead's link to itself
    select from_rank, to_rank from linked_ranks
    union all
    select to_rank as from_rank, from_rank as to_rank from linked_ranks
    union all
    select node_rank as from_rank, node_rank as to_rank from nodes

),

labels_0 as (

    select node_rank, node_rank as label
    from nodes

),

{%- for round in range(1, rounds + 1) %}

labels_{{ round }} as (

    select
        edges.from_rank as node_rank,
        min(previous.label) as label

    from edges
    inner join labels_{{ round - 1 }} as previous
        on edges.to_rank = previous.node_rank
    group by edges.from_rank

),
{%- endfor %}

labels as (

    select * from labels_{{ rounds }}

),

unconverged_labels as (

    -- a link between two labels: that component needed more rounds than the limit allows
    select distinct from_labels.label
    from edges
    inner join labels as from_labels
        on edges.from_rank = from_labels.node_rank
    inner join labels as to_labels
        on edges.to_rank = to_labels.node_rank
    where from_labels.label <> to_labels.label

),

final as (

    select
        cast(labels.node_rank as {{ dbt.type_bigint() }}) as node_rank,
        cast(labels.label as {{ dbt.type_bigint() }}) as component_label,
        cast(unconverged_labels.label is not null as {{ dbt.type_boolean() }}) as is_unconverged

    from labels
    left join unconverged_labels
        on labels.label = unconverged_labels.label

)

select * from final
