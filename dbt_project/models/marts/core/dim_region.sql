{#- Branch offices (seed regions) plus UNKNOWN, the region of leads that map nowhere. -#}
with

regions as (

    select * from {{ ref('regions') }}

),

known as (

    select
        region,
        region_name_zh,
        false as is_unknown

    from regions

),

unknown as (

    select
        'UNKNOWN' as region,
        '未知区域' as region_name_zh,
        true as is_unknown

),

unioned as (

    select * from known
    union all
    select * from unknown

),

final as (

    select
        cast(region as varchar) as region,
        cast(region_name_zh as varchar) as region_name_zh,
        cast(is_unknown as boolean) as is_unknown

    from unioned

)

select * from final
