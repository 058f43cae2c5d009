{#-
    Every live payment instalment (stg_crm__payments), at its own grain: its order's lead,
    opportunity, account, owner, region, business unit and channel (int_orders_enriched; a
    payment without a live order reports to 'UNKNOWN' / '(none)'). Amount as recorded and in the
    reporting currency at the rate valid on the payment's business date (int_fx_rates).
-#}

{{ config(materialized='table') }}

with

payments as (

    select * from {{ ref('stg_crm__payments') }}

),

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates') }}

),

dated as (

    select
        payments.*,
        {{ business_date('payments.paid_at') }} as payment_date

    from payments

),

joined as (

    select
        dated.payment_id,
        dated.order_id,
        orders.opportunity_id,
        orders.lead_key,
        orders.crm_lead_id,
        orders.account_id,
        orders.owner_id,
        dated.paid_at,
        dated.payment_date,
        -- an amount the export names no currency for is in the default (= reporting) currency
        coalesce(dated.currency, '{{ var("reporting_currency") }}') as currency,
        dated.amount,
        fx_rates.rate as fx_rate,
        dated.amount * fx_rates.rate as reporting_amount,
        coalesce(orders.region, 'UNKNOWN') as region,
        coalesce(orders.region_source, 'unknown') as region_source,
        coalesce(orders.business_unit, 'UNKNOWN') as business_unit,
        coalesce(orders.business_unit_source, 'unknown') as business_unit_source,
        coalesce(orders.attributed_channel, '(none)') as attributed_channel,
        orders.lead_created_date

    from dated
    left join orders
        on dated.order_id = orders.order_id
    left join fx_rates
        on coalesce(dated.currency, '{{ var("reporting_currency") }}') = fx_rates.currency
        and dated.payment_date >= fx_rates.valid_from
        and (fx_rates.valid_to is null or dated.payment_date < fx_rates.valid_to)

),

final as (

    select
        cast(payment_id as {{ dbt.type_string() }}) as payment_id,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
        cast(lead_key as {{ dbt.type_string() }}) as lead_key,
        cast(crm_lead_id as {{ dbt.type_string() }}) as crm_lead_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(lead_key is null as {{ dbt.type_boolean() }}) as is_account_level,
        cast(paid_at as {{ dbt.type_timestamp() }}) as paid_at,
        cast(payment_date as date) as payment_date,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(amount as decimal(18, 2)) as amount,
        cast(fx_rate as decimal(18, 6)) as fx_rate,
        cast(reporting_amount as decimal(18, 2)) as reporting_amount,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }}) as reporting_currency,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(region_source as {{ dbt.type_string() }}) as region_source,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,
        cast(business_unit_source as {{ dbt.type_string() }}) as business_unit_source,
        cast(attributed_channel as {{ dbt.type_string() }}) as attributed_channel,
        cast(lead_created_date as date) as lead_created_date

    from joined

)

select * from final
