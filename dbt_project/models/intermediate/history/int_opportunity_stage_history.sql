{#-
    Stage history of every CRM opportunity that still exists, from every version the exports
    delivered (stg_crm__opportunity_versions), not only the latest one (stg_crm__opportunities).

    Existence: an opportunity whose latest version is a deletion is gone, whatever its older
    versions say. Versions run in the order the latest-version rule implies: `updated_at` (a
    version without one first), then the export, then the line. A stage change = a version whose
    `stage` differs from the previous version's.
-#}

with

opportunity_versions as (

    select * from {{ ref('stg_crm__opportunity_versions') }}

),

live_opportunities as (

    -- the opportunities that still exist: their latest version is not a deletion
    select
        opportunity_id,
        crm_lead_id,
        stage as latest_stage

    from opportunity_versions
    where is_latest_version and not is_deleted

),

versions as (

    select
        opportunity_versions.opportunity_id,
        opportunity_versions.stage,
        opportunity_versions.created_at,
        opportunity_versions.closed_at,
        opportunity_versions.is_won,
        opportunity_versions.first_exported_on,
        lag(opportunity_versions.stage) over (
            partition by opportunity_versions.opportunity_id
            order by
                opportunity_versions.updated_at asc nulls first,
                opportunity_versions.exported_on asc,
                opportunity_versions.source_line asc,
                opportunity_versions.source_file asc
        ) as previous_stage,
        row_number() over (
            partition by opportunity_versions.opportunity_id
            order by
                opportunity_versions.updated_at asc nulls first,
                opportunity_versions.exported_on asc,
                opportunity_versions.source_line asc,
                opportunity_versions.source_file asc
        ) as version_number

    from opportunity_versions
    inner join live_opportunities
        on opportunity_versions.opportunity_id = live_opportunities.opportunity_id

),

changes as (

    select
        *,
        case
            when version_number = 1 then 0
            when stage is null and previous_stage is null then 0
            when stage is null or previous_stage is null then 1
            when stage <> previous_stage then 1
            else 0
        end as is_stage_change

    from versions

),

version_totals as (

    select
        opportunity_id,
        count(*) as version_count,
        min(first_exported_on) as first_exported_on,
        min(created_at) as first_created_at,
        min(closed_at) as first_closed_at,
        min(case when is_won then closed_at end) as first_won_at,
        min(case when closed_at is not null or is_won is not null then first_exported_on end)
            as first_closed_exported_on,
        min(case when is_won then first_exported_on end) as first_won_exported_on,
        sum(is_stage_change) as stage_change_count,
        count(distinct stage) as distinct_stage_count

    from changes
    group by opportunity_id

),

final as (

    select
        live_opportunities.opportunity_id,
        live_opportunities.crm_lead_id,

        ----------  first time each milestone was recorded, over every version (naive UTC)
        version_totals.first_created_at,
        version_totals.first_closed_at,
        version_totals.first_won_at,
        version_totals.first_closed_exported_on,
        version_totals.first_won_exported_on,

        ----------  stage changes
        live_opportunities.latest_stage,
        cast(version_totals.stage_change_count as integer) as stage_change_count,
        cast(version_totals.distinct_stage_count as integer) as distinct_stage_count,

        ----------  the history itself
        cast(version_totals.version_count as integer) as version_count,
        version_totals.first_exported_on

    from live_opportunities
    inner join version_totals
        on live_opportunities.opportunity_id = version_totals.opportunity_id

)

select * from final
