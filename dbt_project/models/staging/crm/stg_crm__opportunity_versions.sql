{#-
    Every distinct version of every CRM opportunity the exports delivered: the history behind
    stg_crm__opportunities, which keeps only the latest one. Read by the stage history
    (int_opportunity_stage_history).

    One row per distinct version: an exact re-send (every contract column equal, lineage aside) in
    a later export, or twice in one file, collapses into its last delivery, so the row that
    stg_crm__opportunities keeps is always one of these rows (`is_latest_version`). Deletions are
    kept as versions (`is_deleted`): whether a record still exists is decided by its latest version.
-#}

{%- set version_columns = [
    'opportunity_id', 'crm_lead_id', 'account_id', 'owner_id', 'created_at', 'stage', 'amount',
    'currency', 'closed_at', 'is_won', 'updated_at', 'is_deleted',
] %}

with

source as (

    select * from {{ source('crm', 'opportunities') }}

),

deliveries as (

    select
        *,
        -- 1 = the version stg_crm__opportunities keeps (same rule, over every delivered row)
        {{ latest_version_rank(['opportunity_id'], 'updated_at') }} as version_rank,
        -- 1 = the last delivery of this exact content; the same tie-break as the rank above, so
        -- the row ranked 1 there is also the one kept here
        row_number() over (
            partition by {{ version_columns | join(', ') }}
            order by _export_date desc, _source_line desc, _source_file desc
        ) as delivery_rank,
        min(_export_date) over (
            partition by {{ version_columns | join(', ') }}
        ) as first_export_date,
        count(*) over (
            partition by {{ version_columns | join(', ') }}
        ) as delivery_count

    from source

),

versions as (

    -- one row per distinct version: its last delivery
    select * from deliveries
    where delivery_rank = 1

),

renamed as (

    select

        ----------  ids
        cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
        cast(crm_lead_id as {{ dbt.type_string() }}) as crm_lead_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,

        ----------  strings
        cast(stage as {{ dbt.type_string() }}) as stage,
        cast(currency as {{ dbt.type_string() }}) as currency,

        ----------  numerics
        cast(amount as decimal(18, 2)) as amount,

        ----------  booleans
        cast(is_won as {{ dbt.type_boolean() }}) as is_won,

        ----------  timestamps (UTC)
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(closed_at as {{ dbt.type_timestamp() }}) as closed_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        ----------  the version's place in the history
        cast(coalesce(is_deleted, false) as {{ dbt.type_boolean() }}) as is_deleted,
        version_rank = 1 as is_latest_version,
        cast(first_export_date as date) as first_exported_on,
        cast(delivery_count as {{ dbt.type_bigint() }}) as delivery_count,

        ----------  lineage (the version's last delivery in the raw zone)
        cast(_export_date as date) as exported_on,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_run_id as {{ dbt.type_string() }}) as load_run_id

    from versions

)

select * from renamed
