{#-
    Reconciliation: every MA lead and every CRM lead of staging belongs to exactly one person
    (int_lead_identity) and that person is exactly one fct_lead_to_cash row; every fact row is
    the person of at least one source lead. Returns the offending ids with how many fact rows
    carry them.
-#}

with

ma_leads as (

    select lead_id from {{ ref('stg_ma__leads') }}

),

crm_leads as (

    select crm_lead_id from {{ ref('stg_crm__leads') }}

),

identity as (

    select lead_key, source_system, source_lead_id from {{ ref('int_lead_identity') }}

),

facts as (

    select lead_key from {{ ref('fct_lead_to_cash') }}

),

ma_coverage as (

    select
        'ma' as source,
        ma_leads.lead_id as source_id,
        count(facts.lead_key) as fact_rows

    from ma_leads
    left join identity
        on ma_leads.lead_id = identity.source_lead_id
        and identity.source_system = 'ma'
    left join facts
        on identity.lead_key = facts.lead_key
    group by ma_leads.lead_id

),

crm_coverage as (

    select
        'crm' as source,
        crm_leads.crm_lead_id as source_id,
        count(facts.lead_key) as fact_rows

    from crm_leads
    left join identity
        on crm_leads.crm_lead_id = identity.source_lead_id
        and identity.source_system = 'crm'
    left join facts
        on identity.lead_key = facts.lead_key
    group by crm_leads.crm_lead_id

),

orphan_facts as (

    select
        'fact' as source,
        facts.lead_key as source_id,
        0 as fact_rows

    from facts
    left join identity
        on facts.lead_key = identity.lead_key
    where identity.lead_key is null

)

select * from ma_coverage
where fact_rows <> 1
union all
select * from crm_coverage
where fact_rows <> 1
union all
select * from orphan_facts
