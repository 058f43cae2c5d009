{#- Every payment instalment, account-level ones included (int_payments_enriched), under a contract. -#}

with

payments as (

    select * from {{ ref('int_payments_enriched') }}

),

final as (

    select
        payment_id,
        order_id,
        opportunity_id,
        lead_key,
        crm_lead_id,
        account_id,
        owner_id,
        is_account_level,
        paid_at,
        payment_date,
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

    from payments

)

select * from final
