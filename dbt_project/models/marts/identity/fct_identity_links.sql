{#-
    The evidence of identity resolution, for analysts: every pair of source leads that share an
    identifier (int_identity_links), with the people both belong to, whether the value may link
    (not a role address or switchboard) and whether the link made them one person.
-#}

with

links as (

    select * from {{ ref('int_identity_links') }}

),

identity as (

    select node_key, lead_key from {{ ref('int_lead_identity') }}

),

final as (

    select
        links.node_key,
        links.linked_node_key,
        from_leads.lead_key,
        to_leads.lead_key as linked_lead_key,
        links.link_type,
        links.link_value,
        links.leads_sharing_value,
        links.exclusion_reason,
        links.is_linkable,
        cast(
            links.is_linkable and from_leads.lead_key = to_leads.lead_key as {{ dbt.type_boolean() }}
        ) as is_used

    from links
    inner join identity as from_leads
        on links.node_key = from_leads.node_key
    inner join identity as to_leads
        on links.linked_node_key = to_leads.node_key

)

select * from final
