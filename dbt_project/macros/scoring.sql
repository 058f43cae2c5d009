{#-
    The lead-score formula (seeds 002/004), shared by int_lead_scores_current (tonight's score) and
    fct_lead_scores_daily (every night's), so the two can never drift apart.
-#}

{#- Decay: points_per_period for every full period_days without interaction (0 without a rule). -#}
{% macro score_decay_points(days_without_interaction, period_days, points_per_period) -%}
    case
        when {{ period_days }} > 0
            -- full periods, in integer arithmetic (days >= 0): (days - days mod period) / period
            then cast(
                ({{ days_without_interaction }} - mod({{ days_without_interaction }}, {{ period_days }}))
                / {{ period_days }}
                * {{ points_per_period }}
                as integer
            )
        else 0
    end
{%- endmacro %}

{#- Score = explicit + implicit + decay, never below 0 (no upper cap). -#}
{% macro clamped_score(explicit_points, implicit_points, decay_points) -%}
    case
        when {{ explicit_points }} + {{ implicit_points }} + {{ decay_points }} < 0 then 0
        else {{ explicit_points }} + {{ implicit_points }} + {{ decay_points }}
    end
{%- endmacro %}

{#- Band of a score (seed 004): 0-40 nurture, 41-60 telesales, above 60 sales_ready. -#}
{% macro score_band(score) -%}
    case
        when {{ score }} > 60 then 'sales_ready'
        when {{ score }} > 40 then 'telesales'
        else 'nurture'
    end
{%- endmacro %}
