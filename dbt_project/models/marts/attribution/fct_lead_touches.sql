{#-
    One row per marketing touch of a unified lead, with the seed-003 attribution credit and three
    comparison models, so analysts can set them side by side (sum a credit column per channel).
    Logic and rules: int_touches_attributed.
-#}

with

touches as (

    select * from {{ ref('int_touches_attributed') }}

),

final as (

    select
        ----------  ids
        cast(touch_id as {{ dbt.type_string() }}) as touch_id,
        cast(lead_key as {{ dbt.type_string() }}) as lead_key,
        cast(ma_lead_id as {{ dbt.type_string() }}) as ma_lead_id,

        ----------  the touch
        cast(touch_source as {{ dbt.type_string() }}) as touch_source,
        cast(touch_at as {{ dbt.type_timestamp() }}) as touch_at,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(utm_source as {{ dbt.type_string() }}) as utm_source,
        cast(utm_medium as {{ dbt.type_string() }}) as utm_medium,
        cast(utm_campaign as {{ dbt.type_string() }}) as utm_campaign,
        cast(touch_number as integer) as touch_number,

        ----------  flags
        cast(is_tracked as {{ dbt.type_boolean() }}) as is_tracked,
        cast(is_credit_eligible as {{ dbt.type_boolean() }}) as is_credit_eligible,
        cast(is_first_touch as {{ dbt.type_boolean() }}) as is_first_touch,
        cast(is_last_touch_before_opportunity as {{ dbt.type_boolean() }}) as is_last_touch_before_opportunity,

        ----------  the lead's attribution context
        cast(opportunity_at as {{ dbt.type_timestamp() }}) as opportunity_at,
        cast(attribution_rule as {{ dbt.type_string() }}) as attribution_rule,

        ----------  credit
        cast(credit_rule as integer) as credit_rule,
        cast(credit_first_touch as integer) as credit_first_touch,
        cast(credit_last_touch as integer) as credit_last_touch,
        cast(credit_linear as double precision) as credit_linear,

        ----------  seed-003 entry (added after the original columns: BI tools read them by position too)
        cast(activity_type as {{ dbt.type_string() }}) as activity_type,
        cast(is_entry_touch as {{ dbt.type_boolean() }}) as is_entry_touch,
        cast(is_rule_eligible as {{ dbt.type_boolean() }}) as is_rule_eligible,
        cast(is_after_opportunity as {{ dbt.type_boolean() }}) as is_after_opportunity,
        cast(is_creation_record as {{ dbt.type_boolean() }}) as is_creation_record,
        cast(lead_created_at as {{ dbt.type_timestamp() }}) as lead_created_at

    from touches

)

select * from final
