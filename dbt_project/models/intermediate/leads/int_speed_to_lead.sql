{#-
    Speed to lead in working hours: one row per unified lead (int_lead_stages).

    Seed 003's SDR rule "48小时内线索清洗完毕" (leads cleaned and handed on within 48 hours) counts
    working time, not calendar time. The sources define no office hours, so a working hour is a
    clock hour that elapses on a working day: the clock runs around the clock on working days and
    stops on non-working days. Everything is measured in business local time (`to_business_time`,
    var business_tz): a business day runs from local midnight to local midnight.

    Working day:
      every lead   `is_workday` of the calendar (int_dates, seed china_calendar): Monday to Friday
                   unless a public holiday, plus the 调休 make-up workdays (weekend days worked)
      Saturday     also a working day when it is not a public holiday and the lead's MA `city` is
                   in the seed saturday_work_cities (seed 003: SDRs in 长沙, 石家庄, 贵阳 work
                   Saturdays). A lead without a city (or without an MA lead) follows the calendar.
                   The city matches the seed's `city`, `city` + 市 or `city_pinyin`, trimmed and
                   case-insensitive. Seed 003 ties Saturday work to the city of the company whose
                   SDRs work; the sources record no SDR city, so the lead's city stands for the
                   team that works it.

    Measures (MA leads only, like the calendar hours in int_lead_to_cash: a CRM-created lead is
    born assigned):
      working_hours_to_assignment      created_at -> assigned_at
      working_hours_mql_to_assignment  mql_at -> assigned_at
    A negative duration (assignment before the lead existed, or before its MQL) is a data error:
    its working hours are the working hours between the two times with a minus sign, it is flagged
    (`assignment_precedes_lead`, `assignment_precedes_mql`) and it never passes the 48-hour rule.
    Exactly 48 working hours passes. A time outside the calendar's range (vars dim_date_start ..
    dim_date_end) gives NULL working hours.

    How: no row per hour or day. Each calendar day carries the running count of working days up to
    and including it (`working_days_through`), once for the national calendar and once for the
    Saturday-working one. Between two local times on days d1 < d2, the working seconds are the
    rest of d1 (if d1 is a working day) + the part of d2 before the end time (if d2 is a working
    day) + 86,400 x the working days strictly between them; on the same day, the difference if it
    is a working day. Two equi-joins on the day, portable (dbt cross-database macros only).
-#}

{%- set rule_hours = 48 -%}

with

stages as (

    select
        lead_key,
        created_at,
        mql_at,
        assigned_at
    from {{ ref('int_lead_stages') }}

),

leads as (

    select
        lead_key,
        ma_lead_id
    from {{ ref('int_leads_unified') }}

),

ma_leads as (

    select
        lead_id,
        city
    from {{ ref('stg_ma__leads') }}

),

-- the spellings of a listed city a lead may carry: 长沙, 长沙市, changsha (compared in lower case)
saturday_city_names as (

    select lower(city) as city_name
    from {{ ref('saturday_work_cities') }}

    union

    select lower({{ dbt.concat(['city', "'市'"]) }}) as city_name
    from {{ ref('saturday_work_cities') }}

    union

    select lower(city_pinyin) as city_name
    from {{ ref('saturday_work_cities') }}

),

dates as (

    select
        date_day,
        day_of_week,
        is_holiday,
        is_workday
    from {{ ref('int_dates') }}

),

-- MA leads whose city works Saturdays (grouped: one row per lead whatever the seed holds)
saturday_leads as (

    select ma_leads.lead_id
    from ma_leads
    inner join saturday_city_names
        on lower(trim(ma_leads.city)) = saturday_city_names.city_name
    group by ma_leads.lead_id

),

lead_calendars as (

    select
        stages.lead_key,
        leads.ma_lead_id,
        ma_leads.city,
        saturday_leads.lead_id is not null as works_saturdays,
        stages.created_at,
        stages.mql_at,
        stages.assigned_at

    from stages
    inner join leads
        on stages.lead_key = leads.lead_key
    left join ma_leads
        on leads.ma_lead_id = ma_leads.lead_id
    left join saturday_leads
        on leads.ma_lead_id = saturday_leads.lead_id

),

-- two calendars per day: the national one, and the one of cities whose SDRs work Saturdays
day_calendars as (

    select
        date_day,
        false as works_saturdays,
        is_workday as is_working_day
    from dates

    union all

    select
        date_day,
        true as works_saturdays,
        is_workday or (day_of_week = 6 and not is_holiday) as is_working_day
    from dates

),

working_days as (

    select
        date_day,
        works_saturdays,
        is_working_day,
        case when is_working_day then 1 else 0 end as working_day_count,
        sum(case when is_working_day then 1 else 0 end) over (
            partition by works_saturdays
            order by date_day
            rows between unbounded preceding and current row
        ) as working_days_through

    from day_calendars

),

-- one row per lead and measure, with the interval in business local time, earlier end first
intervals as (

    select
        lead_key,
        'created' as measure,
        works_saturdays,
        {{ to_business_time('created_at') }} as start_local,
        {{ to_business_time('assigned_at') }} as end_local
    from lead_calendars
    where ma_lead_id is not null and assigned_at is not null

    union all

    select
        lead_key,
        'mql' as measure,
        works_saturdays,
        {{ to_business_time('mql_at') }} as start_local,
        {{ to_business_time('assigned_at') }} as end_local
    from lead_calendars
    where ma_lead_id is not null and assigned_at is not null and mql_at is not null

),

ordered as (

    select
        lead_key,
        measure,
        works_saturdays,
        end_local < start_local as is_negative,
        case when end_local < start_local then end_local else start_local end as from_local,
        case when end_local < start_local then start_local else end_local end as to_local

    from intervals

),

bounded as (

    select
        *,
        cast(from_local as date) as from_date,
        cast(to_local as date) as to_date

    from ordered

),

measured as (

    select
        bounded.lead_key,
        bounded.measure,
        bounded.is_negative,
        case
            -- a day outside the calendar: unknown
            when from_day.date_day is null or to_day.date_day is null then null
            -- within one day
            when bounded.from_date = bounded.to_date and from_day.is_working_day
                then {{ dbt.datediff('bounded.from_local', 'bounded.to_local', 'second') }}
            when bounded.from_date = bounded.to_date then 0
            else
                -- the rest of the first day
                case
                    when from_day.is_working_day
                        then {{ dbt.datediff(
                            'bounded.from_local',
                            dbt.dateadd('day', 1, 'cast(bounded.from_date as ' ~ dbt.type_timestamp() ~ ')'),
                            'second'
                        ) }}
                    else 0
                end
                -- the last day up to the end time
                + case
                    when to_day.is_working_day
                        then {{ dbt.datediff(
                            'cast(bounded.to_date as ' ~ dbt.type_timestamp() ~ ')', 'bounded.to_local', 'second'
                        ) }}
                    else 0
                end
                -- the whole working days in between
                + 86400 * (to_day.working_days_through - to_day.working_day_count - from_day.working_days_through)
        end as working_seconds

    from bounded
    left join working_days as from_day
        on bounded.from_date = from_day.date_day and bounded.works_saturdays = from_day.works_saturdays
    left join working_days as to_day
        on bounded.to_date = to_day.date_day and bounded.works_saturdays = to_day.works_saturdays

),

signed as (

    select
        lead_key,
        measure,
        is_negative,
        case when is_negative then -working_seconds else working_seconds end as working_seconds

    from measured

),

pivoted as (

    select
        lead_key,
        max(case when measure = 'created' then working_seconds end) as working_seconds_to_assignment,
        max(case when measure = 'mql' then working_seconds end) as working_seconds_mql_to_assignment

    from signed
    group by lead_key

),

final as (

    select
        cast(lead_calendars.lead_key as {{ dbt.type_string() }}) as lead_key,
        cast(lead_calendars.ma_lead_id as {{ dbt.type_string() }}) as ma_lead_id,
        cast(lead_calendars.city as {{ dbt.type_string() }}) as city,
        cast(lead_calendars.works_saturdays as {{ dbt.type_boolean() }}) as saturday_work_city,
        -- safe_divide rounds half away from zero the same on every engine (a DOUBLE division
        -- made DuckDB say 20.43 where PostgreSQL says 20.44 for 73,548 s)
        cast(
            {{ safe_divide('pivoted.working_seconds_to_assignment', '3600', 2) }} as decimal(12, 2)
        ) as working_hours_to_assignment,
        cast(
            {{ safe_divide('pivoted.working_seconds_mql_to_assignment', '3600', 2) }} as decimal(12, 2)
        ) as working_hours_mql_to_assignment,

        -- data errors: the assignment comes before the lead (or its MQL) existed
        cast(case
            when lead_calendars.ma_lead_id is not null and lead_calendars.assigned_at is not null
                then lead_calendars.assigned_at < lead_calendars.created_at
        end as {{ dbt.type_boolean() }}) as assignment_precedes_lead,
        cast(case
            when
                lead_calendars.ma_lead_id is not null
                and lead_calendars.assigned_at is not null
                and lead_calendars.mql_at is not null
                then lead_calendars.assigned_at < lead_calendars.mql_at
        end as {{ dbt.type_boolean() }}) as assignment_precedes_mql,

        -- seed 003's rule, on working time; a negative duration never passes
        -- (a negative interval wholly on days off has 0 working hours: the order decides, not the sign)
        cast(case
            when pivoted.working_seconds_to_assignment is null then null
            when lead_calendars.assigned_at < lead_calendars.created_at then false
            else pivoted.working_seconds_to_assignment <= {{ rule_hours * 3600 }}
        end as {{ dbt.type_boolean() }}) as assigned_within_48h,
        cast(case
            when pivoted.working_seconds_mql_to_assignment is null then null
            when lead_calendars.assigned_at < lead_calendars.mql_at then false
            else pivoted.working_seconds_mql_to_assignment <= {{ rule_hours * 3600 }}
        end as {{ dbt.type_boolean() }}) as assigned_within_48h_of_mql

    from lead_calendars
    left join pivoted
        on lead_calendars.lead_key = pivoted.lead_key

)

select * from final
