{#-
    Generic test for the funnel marts' period grains: for every week, month, quarter and year row,
    the sum of a measure over the day rows inside [period_start, period_end] equals the row's value,
    per combination of the `partition_by` columns (e.g. region, business_unit). Returns the
    mismatching period rows.
-#}
{% test grains_add_up(model, partition_by, measures) %}

    with

    days as (

        select * from {{ model }}
        where period_grain = 'day'

    ),

    periods as (

        select * from {{ model }}
        where period_grain <> 'day'

    ),

    summed as (

        select
            periods.period_grain,
            periods.period_start,
            {%- for column in partition_by %}
            periods.{{ column }},
            {%- endfor %}
            {%- for measure in measures %}
            max(periods.{{ measure }}) as {{ measure }},
            coalesce(sum(days.{{ measure }}), 0) as {{ measure }}_from_days{% if not loop.last %},{% endif %}
            {%- endfor %}

        from periods
        left join days
            on days.period_start between periods.period_start and periods.period_end
            {%- for column in partition_by %}
            and days.{{ column }} = periods.{{ column }}
            {%- endfor %}
        group by
            periods.period_grain,
            periods.period_start
            {%- for column in partition_by %},
            periods.{{ column }}
            {%- endfor %}

    )

    select * from summed
    where
        {%- for measure in measures %}
        {{ measure }} <> {{ measure }}_from_days{% if not loop.last %} or{% endif %}
        {%- endfor %}

{% endtest %}
