{#-
    Score profile of each month's new leads at month end (seed 001): per month x region x
    business unit ('ALL' rollups), the leads created in the month and how many of them were in
    each band of seed 004 (nurture 0-40, telesales 41-60, sales_ready > 60) on the month's last
    day, as that night scored them (fct_lead_scores_daily). For the running month the profile date
    is the as-of date. A month appears only when fct_lead_scores_daily holds its profile date
    (the score history keeps var score_history_days, default 62 days, from the first build, then
    grows night by night), so a missing history never shows as a month of unscored leads.
-#}

with

facts as (

    select lead_key, created_date, region, business_unit
    from {{ ref('fct_lead_to_cash') }}

),

scores as (

    select score_date, lead_key, score_band
    from {{ ref('fct_lead_scores_daily') }}

),

as_of as (

    select as_of_date from {{ ref('int_scoring_as_of') }}

),

months as (

    select distinct
        month_start,
        {{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'month_start')) }} as month_end
    from {{ ref('dim_date') }}

),

scored_dates as (

    select distinct score_date from scores

),

profile_months as (

    select
        months.month_start,
        months.month_end,
        case when months.month_end < as_of.as_of_date then months.month_end else as_of.as_of_date end as profile_date

    from months
    cross join as_of
    where months.month_start <= as_of.as_of_date

),

available as (

    select profile_months.*
    from profile_months
    inner join scored_dates
        on profile_months.profile_date = scored_dates.score_date

),

new_leads as (

    select
        available.month_start,
        available.month_end,
        available.profile_date,
        facts.region,
        facts.business_unit,
        scores.score_band

    from facts
    inner join available
        on facts.created_date between available.month_start and available.month_end
    left join scores
        on facts.lead_key = scores.lead_key
        and available.profile_date = scores.score_date

),

rolled as (

    {{ grouping_rollup('new_leads', ['month_start', 'month_end', 'profile_date'], ['region', 'business_unit'], [
        'count(*) as new_leads',
        "sum(case when score_band = 'nurture' then 1 else 0 end) as nurture_leads",
        "sum(case when score_band = 'telesales' then 1 else 0 end) as telesales_leads",
        "sum(case when score_band = 'sales_ready' then 1 else 0 end) as sales_ready_leads",
        'sum(case when score_band is null then 1 else 0 end) as unscored_leads',
    ]) }}

),

marked as (

    -- the month ended before the as-of date: its profile is final
    select
        rolled.*,
        rolled.month_end < as_of.as_of_date as is_complete

    from rolled
    cross join as_of

),

final as (

    select
        cast(month_start as date) as month_start,
        cast(month_end as date) as month_end,
        cast(profile_date as date) as profile_date,
        cast(is_complete as {{ dbt.type_boolean() }}) as is_complete,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(business_unit as {{ dbt.type_string() }}) as business_unit,
        cast(new_leads as {{ dbt.type_bigint() }}) as new_leads,
        cast(nurture_leads as {{ dbt.type_bigint() }}) as nurture_leads,
        cast(telesales_leads as {{ dbt.type_bigint() }}) as telesales_leads,
        cast(sales_ready_leads as {{ dbt.type_bigint() }}) as sales_ready_leads,
        cast(unscored_leads as {{ dbt.type_bigint() }}) as unscored_leads,
        {{ safe_divide('sales_ready_leads', 'new_leads') }} as sales_ready_share

    from marked

)

select * from final
