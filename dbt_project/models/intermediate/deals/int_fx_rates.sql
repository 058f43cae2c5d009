{#-
    Exchange rates into the reporting currency (var `reporting_currency`, default CNY) as validity
    ranges: one row per currency and rate, valid from `valid_from` (inclusive) to `valid_to`
    (exclusive; NULL = still valid). The reporting currency converts into itself at 1, always.
    An event's amount converts at the row whose range holds the event's business date: the
    latest rate with valid_from <= date. A currency or date without a row gets no rate, and the
    data test assert_every_amount_has_an_fx_rate fails the build.
-#}

with

rates as (

    select * from {{ ref('fx_rates') }}
    where reporting_currency = '{{ var("reporting_currency") }}'
        and currency <> '{{ var("reporting_currency") }}'

),

identity_rate as (

    select
        '{{ var("reporting_currency") }}' as currency,
        cast('1900-01-01' as date) as valid_from,
        cast(null as date) as valid_to,
        1 as rate

),

ranged as (

    select
        currency,
        valid_from,
        lead(valid_from) over (partition by currency order by valid_from) as valid_to,
        rate

    from rates

),

unioned as (

    select * from ranged
    union all
    select * from identity_rate

),

final as (

    select
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast('{{ var("reporting_currency") }}' as {{ dbt.type_string() }}) as reporting_currency,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        cast(rate as decimal(18, 6)) as rate

    from unioned

)

select * from final
