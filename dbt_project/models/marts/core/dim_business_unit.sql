{#- Business units (seed business_units) plus UNKNOWN, the business unit of leads that map nowhere. -#}
with

business_units as (

    select * from {{ ref('business_units') }}

),

known as (

    select
        business_unit,
        business_unit_name_zh,
        false as is_unknown

    from business_units

),

unknown as (

    select
        'UNKNOWN' as business_unit,
        '未知事业部' as business_unit_name_zh,
        true as is_unknown

),

unioned as (

    select * from known
    union all
    select * from unknown

),

final as (

    select
        cast(business_unit as varchar) as business_unit,
        cast(business_unit_name_zh as varchar) as business_unit_name_zh,
        cast(is_unknown as boolean) as is_unknown

    from unioned

)

select * from final
