{#-
    Reconciliation: every MA lead and every CRM lead of staging is in exactly
    one fct_lead_to_cash row, and every fact row comes from at least one of them. Returns the
    offending ids with how many fact rows carry them.
-#}

with

ma_leads as (

    select lead_id from {{ ref('stg_ma__leads') }}

),

crm_leads as (

    select crm_lead_id from {{ ref('stg_crm__leads') }}

),

facts as (

    select lead_key, ma_lead_id, crm_lead_id from {{ ref('fct_lead_to_cash') }}

),

ma_coverage as (

    select
        'ma' as source,
        ma_leads.lead_id as source_id,
        count(facts.lead_key) as fact_rows

    from ma_leads
    left join facts
        on ma_leads.lead_id = facts.ma_lead_id
    group by ma_leads.lead_id

),

crm_coverage as (

    select
        'crm' as source,
        crm_leads.crm_lead_id as source_id,
        count(facts.lead_key) as fact_rows

    from crm_leads
    left join facts
        on crm_leads.crm_lead_id = facts.crm_lead_id
    group by crm_leads.crm_lead_id

),

orphan_facts as (

    select
        'fact' as source,
        facts.lead_key as source_id,
        0 as fact_rows

    from facts
    left join ma_leads
        on facts.ma_lead_id = ma_leads.lead_id
    left join crm_leads
        on facts.crm_lead_id = crm_leads.crm_lead_id
    where ma_leads.lead_id is null
        and crm_leads.crm_lead_id is null

)

select * from ma_coverage
where fact_rows <> 1
union all
select * from crm_coverage
where fact_rows <> 1
union all
select * from orphan_facts
