{#-
    Every marketing touch of every unified lead, ordered, with the seed-003 attribution rule and
    three comparison models (first touch, last touch, linear) as credit columns.

    Touches: the UTM values on the MA lead (at its created_at; activity type `lead_created`) and on
    each MA activity (at occurred_at). The lead record and the activity that created the lead often
    carry the same UTM at the same instant: such an activity is the same touch and is dropped (the
    lead record stays), so the creation channel is not counted twice by the linear model.

    Channel: utm_source (trimmed, matched case-insensitively) through seed `channels`; an unmapped
    utm_source keeps its own value as channel; no utm_source = channel '(none)' (untracked).

    Seed-003 rule (credit_rule, attribution_rule), after the seed's 客户转商机之前3个月,哪个管道先录入,
    客户算谁的; 客户转商机超过3个月,谁后录入客户算谁的:
    - eligible (is_rule_eligible): tracked touches whose type enters (录入) the customer (seed
      `entry_activity_types`; an unknown type does not enter, and a data test fails on it) and that
      are not after the opportunity;
    - the window runs in business time (to_business_time) from the lead's creation (the earliest
      created_at of its MA lead records) to its opportunity (int_lead_stages.opportunity_at):
      opportunity at or before creation + 3 calendar months (dbt.dateadd month: Jan 31 + 3 months =
      Apr 30; exactly 3 months counts as within) -> the first eligible touch; later -> the last
      eligible touch (at or before the opportunity); no opportunity -> the first eligible touch;
    - no eligible touch -> 'no_entering_touch': the credit sits on the lead's creation record (its
      earliest MA lead record) and int_lead_attribution reports the channel '(none)'.
    Comparison models keep every touch (entering or not): tracked touches earn credit, a lead whose
    touches are all untracked gets it on them (channel '(none)'); last touch and linear credit only
    touches at or before the opportunity while there is one, first touch is the first touch. Every
    lead's credit sums to 1 in every model.
-#}

{#-
    A table, not a view (the folder default): the touches and their window functions are read by
    fct_lead_touches, int_lead_attribution (-> fct_lead_to_cash) and their data tests; as a view
    each reader would recompute them (on PostgreSQL each query also pays for JIT-compiling the plan).
-#}
{{ config(materialized='table') }}

with

ma_leads as (

    select lead_id, created_at, utm_source, utm_medium, utm_campaign
    from {{ ref('stg_ma__leads') }}

),

ma_activities as (

    select activity_id, lead_id, activity_type, occurred_at, utm_source, utm_medium, utm_campaign
    from {{ ref('stg_ma__activities') }}

),

unified_leads as (

    -- every MA lead with its person (a second form fill's touches are the same person's)
    select
        lead_key,
        source_lead_id as ma_lead_id

    from {{ ref('int_lead_identity') }}
    where source_system = 'ma'

),

lead_stages as (

    select lead_key, opportunity_at
    from {{ ref('int_lead_stages') }}

),


channels as (

    select channel, lower(utm_source) as utm_source
    from {{ ref('channels') }}

),

entry_types as (

    select activity_type, enters_customer
    from {{ ref('entry_activity_types') }}

),

recorded_touches as (

    select
        {{ dbt.concat(["'lead:'", 'lead_id']) }} as touch_id,
        lead_id as ma_lead_id,
        'lead' as touch_source,
        'lead_created' as activity_type,
        0 as source_order,
        created_at as touch_at,
        nullif(trim(utm_source), '') as utm_source,
        nullif(trim(utm_medium), '') as utm_medium,
        nullif(trim(utm_campaign), '') as utm_campaign

    from ma_leads
    where created_at is not null

    union all

    select
        activity_id as touch_id,
        lead_id as ma_lead_id,
        'activity' as touch_source,
        activity_type,
        1 as source_order,
        occurred_at as touch_at,
        nullif(trim(utm_source), '') as utm_source,
        nullif(trim(utm_medium), '') as utm_medium,
        nullif(trim(utm_campaign), '') as utm_campaign

    from ma_activities
    where occurred_at is not null

),

flagged_copies as (

    -- an activity with the lead record's exact time and UTM values is the lead's creation touch
    -- recorded twice (window partitions group NULLs together on every engine)
    select
        *,
        max(case when touch_source = 'lead' then 1 else 0 end) over (
            partition by ma_lead_id, touch_at, utm_source, utm_medium, utm_campaign
        ) as has_lead_record_copy

    from recorded_touches

),

touches as (

    select
        flagged_copies.touch_id,
        unified_leads.lead_key,
        flagged_copies.ma_lead_id,
        flagged_copies.touch_source,
        flagged_copies.activity_type,
        flagged_copies.source_order,
        flagged_copies.touch_at,
        flagged_copies.utm_source,
        flagged_copies.utm_medium,
        flagged_copies.utm_campaign,
        case
            when flagged_copies.utm_source is null then '(none)'
            else coalesce(channels.channel, flagged_copies.utm_source)
        end as channel,
        flagged_copies.utm_source is not null as is_tracked,
        -- a type missing from the seed does not enter (and fails assert_every_activity_type_is_in_entry_seed)
        coalesce(entry_types.enters_customer, false) as is_entry_touch,
        lead_stages.opportunity_at

    from flagged_copies
    inner join unified_leads
        on flagged_copies.ma_lead_id = unified_leads.ma_lead_id
    left join channels
        on lower(flagged_copies.utm_source) = channels.utm_source
    left join entry_types
        on flagged_copies.activity_type = entry_types.activity_type
    left join lead_stages
        on unified_leads.lead_key = lead_stages.lead_key
    where flagged_copies.touch_source = 'lead'
        or flagged_copies.has_lead_record_copy = 0

),

numbered as (

    select
        *,
        row_number() over (
            partition by lead_key
            order by touch_at, source_order, touch_id
        ) as touch_number,
        -- the creation record first: the earliest MA lead record (the earliest touch without one)
        row_number() over (
            partition by lead_key
            order by source_order, touch_at, touch_id
        ) as creation_rank,
        max(case when is_tracked then 1 else 0 end) over (
            partition by lead_key
        ) as lead_has_tracked_touch,
        (opportunity_at is not null and touch_at > opportunity_at) as is_after_opportunity

    from touches

),

candidates as (

    select
        *,
        -- comparison models: tracked touches, or all of them if none is tracked
        (is_tracked or lead_has_tracked_touch = 0) as is_candidate,
        -- seed-003 rule: tracked touches that enter the customer, never after the opportunity
        (is_tracked and is_entry_touch and not is_after_opportunity) as is_rule_eligible,
        creation_rank = 1 as is_creation_record

    from numbered

),

before_opportunity as (

    select
        *,
        (
            is_candidate
            and opportunity_at is not null
            and touch_at <= opportunity_at
        ) as is_before_opportunity,
        min(case when is_creation_record then touch_at end) over (
            partition by lead_key
        ) as lead_created_at

    from candidates

),

ranked as (

    select
        *,
        row_number() over (
            partition by lead_key, is_candidate
            order by touch_at, source_order, touch_id
        ) as candidate_rank_asc,
        row_number() over (
            partition by lead_key, is_candidate
            order by touch_at desc, source_order desc, touch_id desc
        ) as candidate_rank_desc,
        row_number() over (
            partition by lead_key, is_before_opportunity
            order by touch_at desc, source_order desc, touch_id desc
        ) as before_opportunity_rank_desc,
        row_number() over (
            partition by lead_key, is_rule_eligible
            order by touch_at, source_order, touch_id
        ) as rule_rank_asc,
        row_number() over (
            partition by lead_key, is_rule_eligible
            order by touch_at desc, source_order desc, touch_id desc
        ) as rule_rank_desc,
        min(case when is_candidate then touch_at end) over (
            partition by lead_key
        ) as first_touch_at,
        sum(case when is_candidate then 1 else 0 end) over (
            partition by lead_key
        ) as n_candidate_touches,
        sum(case when is_before_opportunity then 1 else 0 end) over (
            partition by lead_key
        ) as n_touches_before_opportunity,
        sum(case when is_rule_eligible then 1 else 0 end) over (
            partition by lead_key
        ) as n_rule_eligible_touches

    from before_opportunity

),

flags as (

    select
        *,
        (is_candidate and candidate_rank_asc = 1) as is_first_touch,
        (is_before_opportunity and before_opportunity_rank_desc = 1) as is_last_touch_before_opportunity,
        (is_candidate and candidate_rank_desc = 1) as is_last_touch,
        (is_rule_eligible and rule_rank_asc = 1) as is_first_entry_touch,
        (is_rule_eligible and rule_rank_desc = 1) as is_last_entry_touch,
        case
            when n_rule_eligible_touches = 0
                then 'no_entering_touch'
            when opportunity_at is null
                then 'first_touch_no_opportunity'
            -- both ends in business time (local wall clock), so the calendar months are the business's
            when {{ to_business_time('opportunity_at') }}
                <= {{ dbt.dateadd('month', 3, to_business_time('lead_created_at')) }}
                then 'first_touch_within_3_months'
            else 'last_touch_after_3_months'
        end as attribution_rule

    from ranked

),

credited as (

    select
        touch_id,
        lead_key,
        ma_lead_id,
        touch_source,
        activity_type,
        touch_at,
        channel,
        utm_source,
        utm_medium,
        utm_campaign,
        is_tracked,
        is_entry_touch,
        is_after_opportunity,
        is_rule_eligible,
        is_candidate as is_credit_eligible,
        touch_number,
        is_first_touch,
        is_last_touch_before_opportunity,
        is_creation_record,
        first_touch_at,
        lead_created_at,
        opportunity_at,
        attribution_rule,

        ----------  credit: 1 on the touch the seed-003 rule credits
        case
            when attribution_rule = 'no_entering_touch'
                then case when is_creation_record then 1 else 0 end
            when attribution_rule = 'last_touch_after_3_months'
                then case when is_last_entry_touch then 1 else 0 end
            else case when is_first_entry_touch then 1 else 0 end
        end as credit_rule,

        ----------  comparison models (every touch, entering or not)
        case when is_first_touch then 1 else 0 end as credit_first_touch,
        case
            when n_touches_before_opportunity > 0
                then case when is_last_touch_before_opportunity then 1 else 0 end
            else case when is_last_touch then 1 else 0 end
        end as credit_last_touch,
        case
            when n_touches_before_opportunity > 0
                then case
                    when is_before_opportunity
                        then cast(1 as double precision) / n_touches_before_opportunity
                    else 0
                end
            when is_candidate
                then cast(1 as double precision) / n_candidate_touches
            else 0
        end as credit_linear

    from flags

)

select * from credited
