-- The loader's quarantine, published for analysts and engineers: why each rejected input row was
-- rejected, with the original row. A thin copy of the source (this model is its staging model),
-- materialized as a table so the published warehouse is a self-contained snapshot.

with

source as (

    select * from {{ source('loader', 'quarantine') }}

),

renamed as (

    select

        ----------  where the row came from
        cast(source as {{ dbt.type_string() }}) as source,
        cast(entity as {{ dbt.type_string() }}) as entity,
        cast(export_date as date) as export_date,
        cast(file as {{ dbt.type_string() }}) as file,
        cast(line as {{ dbt.type_bigint() }}) as line,

        ----------  why it was rejected
        -- `column` is a reserved word in SQL: renamed so analysts need no quoting
        cast({{ adapter.quote('column') }} as {{ dbt.type_string() }}) as column_name,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(detail as {{ dbt.type_string() }}) as detail,

        ----------  the original row
        cast(raw_record as {{ dbt.type_string() }}) as raw_record,

        ----------  lineage
        cast(run_id as {{ dbt.type_string() }}) as load_run_id

    from source

)

select * from renamed
