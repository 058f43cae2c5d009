-- One row per export file the loader read: rows in = rows loaded + rows quarantined, plus size,
-- checksum, format and encoding. A thin copy of the source (this model is its staging model),
-- materialized as a table so the published warehouse is a self-contained snapshot.

with

source as (

    select * from {{ source('loader', 'load_audit') }}

),

renamed as (

    select

        ----------  which file
        cast(source as {{ dbt.type_string() }}) as source,
        cast(entity as {{ dbt.type_string() }}) as entity,
        cast(export_date as date) as export_date,
        cast(file as {{ dbt.type_string() }}) as file,
        cast(format as {{ dbt.type_string() }}) as file_format,
        cast(encoding as {{ dbt.type_string() }}) as encoding,
        cast(checksum_sha256 as {{ dbt.type_string() }}) as checksum_sha256,
        cast(unmapped_headers as {{ dbt.type_string() }}) as unmapped_headers,

        ----------  numerics
        cast(rows_in as {{ dbt.type_bigint() }}) as rows_in,
        cast(rows_loaded as {{ dbt.type_bigint() }}) as rows_loaded,
        cast(rows_quarantined as {{ dbt.type_bigint() }}) as rows_quarantined,
        cast(bytes as {{ dbt.type_bigint() }}) as file_bytes,

        ----------  timestamps (UTC)
        cast(loaded_at as {{ dbt.type_timestamp() }}) as loaded_at,

        ----------  lineage
        cast(run_id as {{ dbt.type_string() }}) as load_run_id

    from source

)

select * from renamed
