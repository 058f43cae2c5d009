{#- Every source lead (MA and CRM) with the person it belongs to (int_lead_identity), under a contract. -#}

with

identity as (

    select * from {{ ref('int_lead_identity') }}

),

final as (

    select
        node_key,
        lead_key,
        source_system,
        source_lead_id,
        first_seen_at,
        is_person_key_lead,
        person_lead_count,
        component_size,
        is_oversized_cluster

    from identity

)

select * from final
