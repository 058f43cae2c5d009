{#-
    The score inputs of each unified lead with an MA lead, as a timeline: one row per business date
    on which they change (the lead's creation date and every date with MA activity), valid until
    the next one (`valid_to`, exclusive; NULL = still valid). The score of a lead on any date d is
    read from the row with valid_from <= d < valid_to, then the decay for d is applied
    (int_lead_scores_current, fct_lead_scores_daily).

    - explicit_points: the lead's current MA attributes against the `explicit` rules of seed
      lead_scoring_rules (constant per lead: MA exports no attribute history);
    - implicit_points: the `implicit` points of every activity on or before valid_from, cumulative
      (no expiry; an activity type without a rule is an interaction worth 0 points);
    - last_interaction_date: the latest activity date on or before valid_from, or the creation
      date when that is later or there is none: the decay counts from here.

    Business dates (`business_date()`, zone var business_tz). CRM-only leads (no MA lead) have no
    MA attributes or behaviour and are not scored.
-#}

{#-
    A table, not a view (the folder default): the timeline is read by int_lead_scores_current,
    fct_lead_scores_daily and their data tests; as a view each reader would recompute it (on
    PostgreSQL each query also pays for JIT-compiling the plan).
-#}
{{ config(materialized='table') }}

with

unified_leads as (

    select lead_key, ma_lead_id
    from {{ ref('int_leads_unified') }}
    where ma_lead_id is not null

),

lead_stages as (

    select lead_key, created_at
    from {{ ref('int_lead_stages') }}

),

ma_leads as (

    select
        lead_id,
        created_at,
        job_title,
        company_size,
        case
            when is_multinational then 'true'
            when not is_multinational then 'false'
        end as is_multinational,
        industry,
        lead_source

    from {{ ref('stg_ma__leads') }}

),

ma_activities as (

    select lead_id, activity_type, occurred_at
    from {{ ref('stg_ma__activities') }}
    where occurred_at is not null

),

rules as (

    select rule_type, attribute, match_value, points
    from {{ ref('lead_scoring_rules') }}

),

scored_leads as (

    select
        unified_leads.lead_key,
        ma_leads.lead_id as ma_lead_id,
        {{ business_date('coalesce(lead_stages.created_at, ma_leads.created_at)') }} as created_date,
        ma_leads.job_title,
        ma_leads.company_size,
        ma_leads.is_multinational,
        ma_leads.industry,
        ma_leads.lead_source

    from unified_leads
    inner join ma_leads
        on unified_leads.ma_lead_id = ma_leads.lead_id
    left join lead_stages
        on unified_leads.lead_key = lead_stages.lead_key

),

lead_attributes as (

    -- long form, one row per (lead, attribute) the explicit rules can match
    {%- set attributes = ['job_title', 'company_size', 'is_multinational', 'industry', 'lead_source'] %}
    {%- for attribute in attributes %}
    select lead_key, '{{ attribute }}' as attribute, {{ attribute }} as attribute_value
    from scored_leads
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

lead_facts as (

    -- one row per scored lead with everything the timeline carries (no join back at the end: on
    -- PostgreSQL, joins of CTEs without statistics can get nested-loop plans)
    select
        scored_leads.lead_key,
        scored_leads.ma_lead_id,
        scored_leads.created_date,
        cast(coalesce(sum(rules.points), 0) as integer) as explicit_points

    from scored_leads
    left join lead_attributes
        on scored_leads.lead_key = lead_attributes.lead_key
    left join rules
        on rules.rule_type = 'explicit'
        and lead_attributes.attribute = rules.attribute
        and lead_attributes.attribute_value = rules.match_value
    group by
        scored_leads.lead_key,
        scored_leads.ma_lead_id,
        scored_leads.created_date

),

activity_points as (

    select
        lead_facts.lead_key,
        lead_facts.ma_lead_id,
        lead_facts.created_date,
        lead_facts.explicit_points,
        {{ business_date('ma_activities.occurred_at') }} as event_date,
        coalesce(rules.points, 0) as points,
        1 as has_activity

    from ma_activities
    inner join lead_facts
        on ma_activities.lead_id = lead_facts.ma_lead_id
    left join rules
        on rules.rule_type = 'implicit'
        and rules.attribute = 'activity_type'
        and ma_activities.activity_type = rules.match_value

),

events as (

    select
        lead_key, ma_lead_id, created_date, explicit_points, event_date, points, has_activity
    from activity_points

    union all

    select
        lead_key, ma_lead_id, created_date, explicit_points,
        created_date as event_date,
        0 as points,
        0 as has_activity
    from lead_facts

),

event_days as (

    select
        lead_key,
        ma_lead_id,
        created_date,
        explicit_points,
        event_date,
        sum(points) as points,
        max(has_activity) as has_activity

    from events
    group by lead_key, ma_lead_id, created_date, explicit_points, event_date

),

timeline as (

    select
        lead_key,
        ma_lead_id,
        created_date,
        explicit_points,
        event_date as valid_from,
        lead(event_date) over (
            partition by lead_key order by event_date
        ) as valid_to,
        sum(points) over (
            partition by lead_key order by event_date
            rows between unbounded preceding and current row
        ) as implicit_points,
        max(case when has_activity = 1 then event_date end) over (
            partition by lead_key order by event_date
            rows between unbounded preceding and current row
        ) as last_activity_date

    from event_days

),

final as (

    select
        lead_key,
        ma_lead_id,
        created_date,
        valid_from,
        valid_to,
        explicit_points,
        cast(implicit_points as integer) as implicit_points,
        case
            when last_activity_date > created_date then last_activity_date
            else created_date
        end as last_interaction_date

    from timeline

)

select * from final
