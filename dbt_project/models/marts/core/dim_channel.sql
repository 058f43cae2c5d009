{#-
    Marketing channels: the channels seed, plus every utm_source seen on MA leads or activities that
    the seed does not map (its own channel, is_mapped = false, so nothing collapses into one bucket
    silently), plus `(none)` for touches without a utm_source.
-#}
with

channels as (

    select * from {{ ref('channels') }}

),

leads as (

    select * from {{ ref('stg_ma__leads') }}

),

activities as (

    select * from {{ ref('stg_ma__activities') }}

),

seen_sources as (

    select utm_source from leads
    union
    select utm_source from activities

),

unmapped_sources as (

    -- a value equal to a channel code counts as that channel, so channel stays unique
    select seen_sources.utm_source

    from seen_sources
    left join channels as by_source
        on seen_sources.utm_source = by_source.utm_source
    left join channels as by_code
        on seen_sources.utm_source = by_code.channel

    where seen_sources.utm_source is not null
        and trim(seen_sources.utm_source) <> ''
        and seen_sources.utm_source <> '(none)'
        and by_source.channel is null
        and by_code.channel is null

),

mapped as (

    select
        channel,
        channel_name_zh,
        utm_source,
        is_online,
        is_paid,
        true as is_mapped

    from channels

),

unmapped as (

    select
        utm_source as channel,
        utm_source as channel_name_zh,
        utm_source,
        cast(null as boolean) as is_online,
        cast(null as boolean) as is_paid,
        false as is_mapped

    from unmapped_sources

),

no_source as (

    select
        '(none)' as channel,
        '无来源' as channel_name_zh,
        cast(null as varchar) as utm_source,
        cast(null as boolean) as is_online,
        false as is_paid,
        false as is_mapped

),

unioned as (

    select * from mapped
    union all
    select * from unmapped
    union all
    select * from no_source

),

final as (

    select
        cast(channel as varchar) as channel,
        cast(channel_name_zh as varchar) as channel_name_zh,
        cast(utm_source as varchar) as utm_source,
        cast(is_online as boolean) as is_online,
        cast(is_paid as boolean) as is_paid,
        cast(is_mapped as boolean) as is_mapped

    from unioned

)

select * from final
