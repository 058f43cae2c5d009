{#-
    Generic test for marts with 'ALL' rollup rows: for every rollup column, the sum of a measure
    over the column's real values equals the row where the column is 'ALL', for every combination
    of the `group_by` columns and of the other rollup columns (so region rows add up to the
    region = 'ALL' row in each business unit, in 'ALL' business units, per period and grain).
    Returns the mismatching groups; a group with detail rows but no 'ALL' row fails too.
-#}
{% test rollups_add_up(model, group_by, rollup, measures) %}

    {%- for column in rollup %}
    {%- set others = group_by + (rollup | reject('equalto', column) | list) %}
    select
        '{{ column }}' as rolled_up_column,
        {%- for other in others %}
        {{ other }},
        {%- endfor %}
        {%- for measure in measures %}
        sum(case when {{ column }} <> 'ALL' then {{ measure }} else 0 end) as {{ measure }}_detail,
        sum(case when {{ column }} = 'ALL' then {{ measure }} else 0 end) as {{ measure }}_all,
        {%- endfor %}
        sum(case when {{ column }} = 'ALL' then 1 else 0 end) as all_rows

    from {{ model }}
    group by
        {{ others | join(', ') }}
    having
        sum(case when {{ column }} = 'ALL' then 1 else 0 end) <> 1
        {%- for measure in measures %}
        or sum(case when {{ column }} <> 'ALL' then {{ measure }} else 0 end)
            <> sum(case when {{ column }} = 'ALL' then {{ measure }} else 0 end)
        {%- endfor %}
    {% if not loop.last %}
    union all
    {% endif %}
    {%- endfor %}

{% endtest %}
