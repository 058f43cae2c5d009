{#-
    Stage history of every CRM lead that still exists, from every version the exports delivered
    (stg_crm__lead_versions), not only the latest one (stg_crm__leads).

    Existence: a lead whose latest version is a deletion is gone, whatever its older versions say;
    a lead that still exists is dated from all its versions, deleted-then-restored ones included.

    SQL episodes: the distinct `sql_at` values ever recorded, in time order. One is a re-SQL
    (reopened) when a `returned_at` recorded in any version lies between the previous `sql_at` and
    it (previous <= returned < this one): sales returned the lead and accepted it again. A later
    `sql_at` with no return in between is a correction of the date, not a new SQL, and an earlier
    one (a typo fixed to an earlier date) simply becomes the first. A return before the first
    `sql_at` makes nothing a re-SQL.
-#}

with

lead_versions as (

    select * from {{ ref('stg_crm__lead_versions') }}

),

live_leads as (

    -- the leads that still exist: their latest version is not a deletion
    select crm_lead_id, sql_at as latest_sql_at
    from lead_versions
    where is_latest_version and not is_deleted

),

versions as (

    select lead_versions.*
    from lead_versions
    inner join live_leads
        on lead_versions.crm_lead_id = live_leads.crm_lead_id

),

version_totals as (

    select
        crm_lead_id,
        count(*) as version_count,
        min(first_exported_on) as first_exported_on,
        min(sql_at) as first_sql_at,
        min(returned_at) as first_returned_at

    from versions
    group by crm_lead_id

),

first_sql_sightings as (

    -- the first export that showed the lead as SQL (any sql_at)
    select
        crm_lead_id,
        min(first_exported_on) as first_sql_exported_on

    from versions
    where sql_at is not null
    group by crm_lead_id

),

sql_dates as (

    select distinct crm_lead_id, sql_at
    from versions
    where sql_at is not null

),

return_dates as (

    select distinct crm_lead_id, returned_at
    from versions
    where returned_at is not null

),

sql_episodes as (

    select
        crm_lead_id,
        sql_at,
        lag(sql_at) over (partition by crm_lead_id order by sql_at) as previous_sql_at

    from sql_dates

),

reopenings as (

    -- an sql_at with a return between the previous sql_at and it: a re-SQL
    select distinct
        sql_episodes.crm_lead_id,
        sql_episodes.sql_at

    from sql_episodes
    inner join return_dates
        on sql_episodes.crm_lead_id = return_dates.crm_lead_id
        and sql_episodes.previous_sql_at <= return_dates.returned_at
        and sql_episodes.sql_at > return_dates.returned_at

),

reopening_totals as (

    select
        crm_lead_id,
        count(*) as sql_reopen_count,
        min(sql_at) as first_reopened_at,
        max(sql_at) as last_reopened_at

    from reopenings
    group by crm_lead_id

),

final as (

    select
        live_leads.crm_lead_id,

        ----------  first time each stage was recorded, over every version (naive UTC)
        version_totals.first_sql_at,
        version_totals.first_returned_at,
        first_sql_sightings.first_sql_exported_on,

        ----------  re-SQLs after a return
        reopening_totals.first_reopened_at,
        reopening_totals.last_reopened_at,
        cast(coalesce(reopening_totals.sql_reopen_count, 0) as integer) as sql_reopen_count,
        cast(
            case
                when version_totals.first_sql_at is null then 0
                else 1 + coalesce(reopening_totals.sql_reopen_count, 0)
            end as integer
        ) as sql_count,

        ----------  the latest version's value, for comparison
        live_leads.latest_sql_at,

        ----------  the history itself
        cast(version_totals.version_count as integer) as version_count,
        version_totals.first_exported_on

    from live_leads
    inner join version_totals
        on live_leads.crm_lead_id = version_totals.crm_lead_id
    left join first_sql_sightings
        on live_leads.crm_lead_id = first_sql_sightings.crm_lead_id
    left join reopening_totals
        on live_leads.crm_lead_id = reopening_totals.crm_lead_id

)

select * from final
