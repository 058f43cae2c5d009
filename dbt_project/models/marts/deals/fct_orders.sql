{#- Every order, account-level ones included (int_orders_enriched), under a contract. -#}

with

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

final as (

    select
        order_id,
        opportunity_id,
        lead_key,
        crm_lead_id,
        account_id,
        owner_id,
        is_account_level,
        ordered_at,
        order_date,
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

    from orders

)

select * from final
