{#-
    Every opportunity, order and payment with an amount converts into the reporting currency:
    fx_rates (seed) has a rate for its currency valid on its business date. Returns the events
    without one; any row fails the build, so amounts in different currencies are never summed
    unconverted (add the missing rate to seeds/fx_rates.csv).
-#}

select 'opportunity' as event, opportunity_id as event_id, currency, opportunity_date as event_date, amount
from {{ ref('int_opportunities_enriched') }}
where amount is not null and reporting_amount is null

union all

select 'order' as event, order_id as event_id, currency, order_date as event_date, amount
from {{ ref('int_orders_enriched') }}
where amount is not null and reporting_amount is null

union all

select 'payment' as event, payment_id as event_id, currency, payment_date as event_date, amount
from {{ ref('int_payments_enriched') }}
where amount is not null and reporting_amount is null
