{#-
    One row per unified lead with at least one touch: its first and last touch channels and the
    channel the seed-003 rule credits (see int_touches_attributed). Leads without any MA touch
    (created directly in the CRM) have no row. A lead without an eligible entering touch
    (attribution_rule 'no_entering_touch') is attributed to '(none)': no tracked channel entered it
    before its opportunity (its rule credit sits on its creation record, so the credit still sums to 1).
-#}

with

touches as (

    select * from {{ ref('int_touches_attributed') }}

),

per_lead as (

    select
        lead_key,
        max(case when is_first_touch then channel end) as first_touch_channel,
        max(case when credit_last_touch = 1 then channel end) as last_touch_channel,
        case
            when max(attribution_rule) = 'no_entering_touch' then '(none)'
            else max(case when credit_rule = 1 then channel end)
        end as attributed_channel,
        max(attribution_rule) as attribution_rule,
        min(first_touch_at) as first_touch_at,
        max(case when credit_last_touch = 1 then touch_at end) as last_touch_at,
        max(case when credit_rule = 1 then touch_at end) as attributed_touch_at,
        min(lead_created_at) as lead_created_at,
        max(opportunity_at) as opportunity_at,
        count(*) as n_touches,
        sum(case when is_credit_eligible then 1 else 0 end) as n_credit_eligible_touches,
        sum(case when is_entry_touch then 1 else 0 end) as n_entry_touches,
        sum(case when is_rule_eligible then 1 else 0 end) as n_rule_eligible_touches,

        ----------  credit totals per model (each must be 1: data tests)
        sum(credit_rule) as total_credit_rule,
        sum(credit_first_touch) as total_credit_first_touch,
        sum(credit_last_touch) as total_credit_last_touch,
        sum(credit_linear) as total_credit_linear

    from touches
    group by lead_key

)

select * from per_lead
