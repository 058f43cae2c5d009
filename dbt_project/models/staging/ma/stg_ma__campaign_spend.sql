with

source as (

    select * from {{ source('ma', 'campaign_spend') }}

),

versions as (

    -- no change timestamp: the latest export wins, then the last line
    select
        *,
        {{ latest_version_rank(['spend_date', 'channel', 'utm_campaign', 'region', 'business_unit'], none) }} as version_rank

    from source

),

latest as (

    -- the latest version of each key (this export has no deletions)
    select * from versions
    where version_rank = 1

),

renamed as (

    select

        ----------  surrogate key: one non-null id for the composite key
        {{ surrogate_key(['spend_date', 'channel', 'utm_campaign', 'region', 'business_unit']) }} as campaign_spend_id,

        ----------  natural key (parts may be empty)
        cast(spend_date as date) as spend_date,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(utm_campaign as {{ dbt.type_string() }}) as utm_campaign,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,

        ----------  strings
        cast(currency as {{ dbt.type_string() }}) as currency,

        ----------  numerics
        cast(amount as decimal(18, 2)) as amount,

        ----------  lineage (the winning version's place in the raw zone)
        cast(_export_date as date) as exported_on,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_run_id as {{ dbt.type_string() }}) as load_run_id

    from latest

)

select * from renamed
