{#- Every opportunity, account-level ones included (int_opportunities_enriched), under a contract. -#}

with

opportunities as (

    select * from {{ ref('int_opportunities_enriched') }}

),

final as (

    select
        opportunity_id,
        lead_key,
        crm_lead_id,
        account_id,
        owner_id,
        is_account_level,
        stage,
        is_won,
        created_at,
        opportunity_date,
        closed_at,
        currency,
        amount,
        fx_rate,
        reporting_amount,
        reporting_currency,
        region,
        region_source,
        business_unit,
        business_unit_source,
        attributed_channel,
        lead_created_date

    from opportunities

)

select * from final
