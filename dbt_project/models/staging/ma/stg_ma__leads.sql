with

source as (

    select * from {{ source('ma', 'leads') }}

),

versions as (

    -- latest updated_at first, then the latest export, then the last line
    select
        *,
        {{ latest_version_rank(['lead_id'], 'updated_at') }} as version_rank

    from source

),

latest as (

    -- the latest version of each key, unless that version deletes it
    select * from versions
    where version_rank = 1
        -- a key whose latest version is a deletion is gone
        and not coalesce(is_deleted, false)

),

renamed as (

    select

        ----------  ids
        cast(lead_id as {{ dbt.type_string() }}) as lead_id,

        ----------  strings
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(company_name as {{ dbt.type_string() }}) as company_name,
        cast(job_title as {{ dbt.type_string() }}) as job_title,
        cast(province as {{ dbt.type_string() }}) as province,
        cast(city as {{ dbt.type_string() }}) as city,
        cast(industry as {{ dbt.type_string() }}) as industry,
        cast(company_size as {{ dbt.type_string() }}) as company_size,
        cast(utm_source as {{ dbt.type_string() }}) as utm_source,
        cast(utm_medium as {{ dbt.type_string() }}) as utm_medium,
        cast(utm_campaign as {{ dbt.type_string() }}) as utm_campaign,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(lead_source as {{ dbt.type_string() }}) as lead_source,
        cast(status as {{ dbt.type_string() }}) as status,

        ----------  numerics
        cast(lead_score as {{ dbt.type_bigint() }}) as lead_score,

        ----------  booleans
        cast(is_multinational as {{ dbt.type_boolean() }}) as is_multinational,

        ----------  timestamps (UTC)
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(mql_at as {{ dbt.type_timestamp() }}) as mql_at,
        cast(recycled_at as {{ dbt.type_timestamp() }}) as recycled_at,

        ----------  lineage (the winning version's place in the raw zone)
        cast(_export_date as date) as exported_on,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_run_id as {{ dbt.type_string() }}) as load_run_id

    from latest

)

select * from renamed
