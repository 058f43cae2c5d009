with

source as (

    select * from {{ source('crm', 'leads') }}

),

versions as (

    -- latest updated_at first, then the latest export, then the last line
    select
        *,
        {{ latest_version_rank(['crm_lead_id'], 'updated_at') }} as version_rank

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
        cast(crm_lead_id as {{ dbt.type_string() }}) as crm_lead_id,
        cast(ma_lead_id as {{ dbt.type_string() }}) as ma_lead_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,

        ----------  strings
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone as {{ dbt.type_string() }}) as phone,
        cast(company_name as {{ dbt.type_string() }}) as company_name,
        cast(status as {{ dbt.type_string() }}) as status,

        ----------  timestamps (UTC)
        cast(assigned_at as {{ dbt.type_timestamp() }}) as assigned_at,
        cast(sql_at as {{ dbt.type_timestamp() }}) as sql_at,
        cast(returned_at as {{ dbt.type_timestamp() }}) as returned_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ----------  lineage (the winning version's place in the raw zone)
        cast(_export_date as date) as exported_on,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_run_id as {{ dbt.type_string() }}) as load_run_id

    from latest

)

select * from renamed
