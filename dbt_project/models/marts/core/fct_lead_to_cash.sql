{#-
    The lead-to-cash fact, published: one row per unified lead. The logic is int_lead_to_cash
    (shared with the funnel models); this mart only puts it under the contract.
-#}

with

lead_to_cash as (

    select * from {{ ref('int_lead_to_cash') }}

),

final as (

    select
        lead_key,
        ma_lead_id,
        crm_lead_id,
        account_id,
        first_opportunity_id,
        owner_id,
        match_method,
        lead_origin,
        lead_source,
        ma_lead_count,
        crm_lead_count,
        is_oversized_cluster,
        region,
        region_source,
        business_unit,
        business_unit_source,
        first_touch_channel,
        last_touch_channel,
        attributed_channel,
        lead_score,
        score_band,
        created_at,
        mql_at,
        sql_at,
        opportunity_at,
        order_at,
        paid_at,
        created_date,
        mql_date,
        sql_date,
        opportunity_date,
        order_date,
        paid_date,
        created_at_inferred,
        mql_at_inferred,
        sql_at_inferred,
        opportunity_at_inferred,
        order_at_inferred,
        stage_dates_corrected,
        current_stage,
        opportunity_amount,
        order_amount,
        paid_amount,
        reporting_opportunity_amount,
        reporting_order_amount,
        reporting_paid_amount,
        opportunity_count,
        order_count,
        days_lead_to_mql,
        days_mql_to_sql,
        days_sql_to_opportunity,
        days_opportunity_to_order,
        days_order_to_paid,
        days_lead_to_opportunity,
        days_lead_to_order,
        is_new_lead_at_sql,
        is_new_lead_at_opportunity,
        is_recycled,
        recycled_at,
        returned_at,
        assigned_at,
        hours_to_assignment,
        assigned_within_48h,
        hours_mql_to_assignment,
        assigned_within_48h_of_mql,
        working_hours_to_assignment,
        working_hours_mql_to_assignment,
        assignment_precedes_lead,
        assignment_precedes_mql,
        saturday_work_city,
        sql_reopened_at,
        sql_reopen_count

    from lead_to_cash

)

select * from final
