{#-
    Identity resolution: one row per person (unified lead) across MA and CRM.

    An MA lead and a CRM lead are one person when, in this order of precedence,
      1. the CRM lead's `ma_lead_id` names the MA lead,
      2. else their normalized emails are equal,
      3. else their normalized (E.164) phones are equal.
    Levels are applied one after the other: a level only pairs leads that no earlier level paired.

    Ties inside a level (one CRM lead matching several MA leads, several CRM leads matching one MA
    lead): a pair is accepted when each side is the other's first choice,
      - a CRM lead prefers the earliest-created MA lead (created_at, then smallest lead_id),
      - an MA lead prefers the earliest-assigned CRM lead (assigned_at, nulls last, then smallest
        crm_lead_id; CRM exports carry no creation time);
    then the accepted pairs are removed and the choice is repeated (`rounds` times per level), so a
    lead that lost a tie can still take its next candidate. Whatever is left unpaired after the
    phone level stays a lead of its own: MA leads as `ma_only`, CRM leads as `unmatched_crm` (leads
    created in CRM directly, or duplicates of a person whose MA lead another CRM lead already took).

    Every MA lead and every CRM lead ends in exactly one row (ma_lead_id and crm_lead_id are each
    unique here). The key is stable and derived from a source id, never a row number:
    'ma:<lead_id>' when the person has an MA lead, else 'crm:<crm_lead_id>'.
-#}

{#- A table, not a view (the folder default): see int_lead_stages.sql. -#}
{{ config(materialized='table') }}

{%- set levels = [
    ('ma_lead_id', 'crm.ma_lead_id = ma.lead_id'),
    ('email', 'crm.email = ma.email'),
    ('phone', 'crm.phone = ma.phone'),
] -%}
{%- set rounds = 3 -%}

with

ma_leads as (

    select
        lead_id,
        created_at,
        nullif(lower(trim(email)), '') as email,
        nullif(trim(phone), '') as phone,
        lead_source

    from {{ ref('stg_ma__leads') }}

),

crm_leads as (

    select
        crm_lead_id,
        nullif(trim(ma_lead_id), '') as ma_lead_id,
        nullif(lower(trim(email)), '') as email,
        nullif(trim(phone), '') as phone,
        assigned_at

    from {{ ref('stg_crm__leads') }}

),

{%- set steps = [] %}  {#- a list, not a variable: Jinja loop scopes drop `set` #}
{%- for method, condition in levels %}
{%- for round in range(1, rounds + 1) %}
{%- set step = method ~ '_' ~ round %}
{%- set previous = steps[-1] if steps else none %}

candidates_{{ step }} as (

    -- pairs linked by {{ method }} among leads no earlier step paired (round {{ round }})
    select
        crm.crm_lead_id,
        ma.lead_id as ma_lead_id,
        row_number() over (
            partition by crm.crm_lead_id
            order by ma.created_at, ma.lead_id
        ) as crm_choice,
        row_number() over (
            partition by ma.lead_id
            order by crm.assigned_at nulls last, crm.crm_lead_id
        ) as ma_choice

    from crm_leads as crm
    inner join ma_leads as ma
        on {{ condition }}
    {%- if previous %}
    left join paired_{{ previous }} as crm_taken
        on crm.crm_lead_id = crm_taken.crm_lead_id
    left join paired_{{ previous }} as ma_taken
        on ma.lead_id = ma_taken.ma_lead_id
    where crm_taken.crm_lead_id is null
        and ma_taken.ma_lead_id is null
    {%- endif %}

),

paired_{{ step }} as (

    -- everything paired so far, plus this step's mutual first choices
    {%- if previous %}
    select crm_lead_id, ma_lead_id, match_method from paired_{{ previous }}
    union all
    {%- endif %}
    select
        crm_lead_id,
        ma_lead_id,
        '{{ method }}' as match_method

    from candidates_{{ step }}
    where crm_choice = 1
        and ma_choice = 1

),
{%- do steps.append(step) %}
{%- endfor %}
{%- endfor %}

pairs as (

    select * from paired_{{ steps[-1] }}

),

ma_people as (

    -- every MA lead: paired with its CRM lead, or on its own
    select
        {{ dbt.concat(["'ma:'", 'ma.lead_id']) }} as lead_key,
        ma.lead_id as ma_lead_id,
        pairs.crm_lead_id,
        coalesce(pairs.match_method, 'ma_only') as match_method,
        'ma' as lead_origin,
        ma.lead_source

    from ma_leads as ma
    left join pairs
        on ma.lead_id = pairs.ma_lead_id

),

crm_people as (

    -- CRM leads no MA lead claimed
    select
        {{ dbt.concat(["'crm:'", 'crm.crm_lead_id']) }} as lead_key,
        cast(null as {{ dbt.type_string() }}) as ma_lead_id,
        crm.crm_lead_id,
        'unmatched_crm' as match_method,
        'crm' as lead_origin,
        'crm_direct' as lead_source

    from crm_leads as crm
    left join pairs
        on crm.crm_lead_id = pairs.crm_lead_id
    where pairs.crm_lead_id is null

),

unified as (

    select * from ma_people
    union all
    select * from crm_people

),

final as (

    select
        cast(lead_key as {{ dbt.type_string() }}) as lead_key,
        cast(ma_lead_id as {{ dbt.type_string() }}) as ma_lead_id,
        cast(crm_lead_id as {{ dbt.type_string() }}) as crm_lead_id,
        cast(match_method as {{ dbt.type_string() }}) as match_method,
        cast(lead_origin as {{ dbt.type_string() }}) as lead_origin,
        cast(lead_source as {{ dbt.type_string() }}) as lead_source

    from unified

)

select * from final
