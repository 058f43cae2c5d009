with

source as (

    select * from {{ source('crm', 'accounts') }}

),

versions as (

    -- latest updated_at first, then the latest export, then the last line
    select
        *,
        {{ latest_version_rank(['account_id'], 'updated_at') }} as version_rank

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
        cast(account_id as {{ dbt.type_string() }}) as account_id,

        ----------  strings
        cast(account_name as {{ dbt.type_string() }}) as account_name,
        cast(industry as {{ dbt.type_string() }}) as industry,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,

        ----------  timestamps (UTC)
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ----------  lineage (the winning version's place in the raw zone)
        cast(_export_date as date) as exported_on,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_run_id as {{ dbt.type_string() }}) as load_run_id

    from latest

)

select * from renamed
