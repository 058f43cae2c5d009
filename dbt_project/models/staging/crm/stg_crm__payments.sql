with

source as (

    select * from {{ source('crm', 'payments') }}

),

versions as (

    -- latest updated_at first, then the latest export, then the last line
    select
        *,
        {{ latest_version_rank(['payment_id'], 'updated_at') }} as version_rank

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
        cast(payment_id as {{ dbt.type_string() }}) as payment_id,
        cast(order_id as {{ dbt.type_string() }}) as order_id,

        ----------  strings
        cast(currency as {{ dbt.type_string() }}) as currency,

        ----------  numerics
        cast(amount as decimal(18, 2)) as amount,

        ----------  timestamps (UTC)
        cast(paid_at as {{ dbt.type_timestamp() }}) as paid_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ----------  lineage (the winning version's place in the raw zone)
        cast(_export_date as date) as exported_on,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_run_id as {{ dbt.type_string() }}) as load_run_id

    from latest

)

select * from renamed
