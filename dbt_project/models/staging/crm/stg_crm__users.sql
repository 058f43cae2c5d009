with

source as (

    select * from {{ source('crm', 'users') }}

),

versions as (

    -- no change timestamp: the latest export wins, then the last line
    select
        *,
        {{ latest_version_rank(['user_id'], none) }} as version_rank

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
        cast(user_id as {{ dbt.type_string() }}) as user_id,

        ----------  strings
        cast(name as {{ dbt.type_string() }}) as user_name,
        cast(role as {{ dbt.type_string() }}) as role,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,

        ----------  booleans
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,

        ----------  lineage (the winning version's place in the raw zone)
        cast(_export_date as date) as exported_on,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_run_id as {{ dbt.type_string() }}) as load_run_id

    from latest

)

select * from renamed
