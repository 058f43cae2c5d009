{#-
    Each scored lead's score on the as-of night (int_scoring_as_of): the `lead_score` and
    `score_band` of marts.fct_lead_to_cash. Same formula as marts.fct_lead_scores_daily (macros/scoring.sql; keep the
    two in step; both are unit-tested):

        lead_score = max(0, explicit_points + implicit_points + decay_points)
        decay_points = points_per_period x floor(days without interaction / period_days)
                       (seed rule `decay`: -30 per full 30 days; 0 when the seed has none)
        score_band = nurture (0-40) | telesales (41-60) | sales_ready (> 60)      (seed 004)

    Leads created after the as-of date are not scored yet.
-#}

with

as_of as (

    select as_of_date from {{ ref('int_scoring_as_of') }}

),

states as (

    select * from {{ ref('int_lead_score_states') }}

),

decay_rule as (

    -- always one row (an aggregate without group by); NULLs when the seed has no decay rule
    select
        max(cast(match_value as integer)) as period_days,
        max(points) as points_per_period

    from {{ ref('lead_scoring_rules') }}
    where rule_type = 'decay'

),

current_states as (

    select
        states.lead_key,
        as_of.as_of_date as score_date,
        states.explicit_points,
        states.implicit_points,
        states.last_interaction_date,
        {{ dbt.datediff('states.last_interaction_date', 'as_of.as_of_date', 'day') }} as days_without_interaction

    from states
    cross join as_of
    where states.created_date <= as_of.as_of_date
        and states.valid_from <= as_of.as_of_date
        and (states.valid_to is null or as_of.as_of_date < states.valid_to)

),

decayed as (

    select
        current_states.*,
        {{ score_decay_points('current_states.days_without_interaction', 'decay_rule.period_days', 'decay_rule.points_per_period') }} as decay_points

    from current_states
    cross join decay_rule

),

scored as (

    select
        *,
        {{ clamped_score('explicit_points', 'implicit_points', 'decay_points') }} as lead_score

    from decayed

),

final as (

    select
        lead_key,
        score_date,
        cast(lead_score as integer) as lead_score,
        {{ score_band('lead_score') }} as score_band,
        explicit_points,
        implicit_points,
        decay_points,
        last_interaction_date,
        cast(days_without_interaction as integer) as days_without_interaction

    from scored

)

select * from final
