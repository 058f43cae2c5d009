with

source as (

    select * from {{ source('ma', 'activities') }}

),

versions as (

    -- no change timestamp: the latest export wins, then the last line
    select
        *,
        {{ latest_version_rank(['activity_id'], none) }} as version_rank

    from source

),

latest as (

    -- the latest version of each key (this export has no deletions)
    select * from versions
    where version_rank = 1

),

renamed as (

    select

        ----------  ids
        cast(activity_id as {{ dbt.type_string() }}) as activity_id,
        cast(lead_id as {{ dbt.type_string() }}) as lead_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,

        ----------  strings
        cast(activity_type as {{ dbt.type_string() }}) as activity_type,
        cast(utm_source as {{ dbt.type_string() }}) as utm_source,
        cast(utm_medium as {{ dbt.type_string() }}) as utm_medium,
        cast(utm_campaign as {{ dbt.type_string() }}) as utm_campaign,

        ----------  timestamps (UTC)
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,

        ----------  lineage (the winning version's place in the raw zone)
        cast(_export_date as date) as exported_on,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_run_id as {{ dbt.type_string() }}) as load_run_id

    from latest

)

select * from renamed
