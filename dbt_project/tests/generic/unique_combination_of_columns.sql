{#-
    Generic test: no two rows share the same combination of `combination_of_columns`.

    Null-safe on purpose: GROUP BY puts NULLs in one group, so (2024-03-01, 'Baidu SEM', NULL, NULL,
    NULL) twice is a duplicate (campaign spend's key has nullable parts: empty region = national).
    A `unique` test on a concatenation would need a sentinel; this needs none.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

    {%- set columns = combination_of_columns | join(', ') %}

    select
        {{ columns }},
        count(*) as n_records

    from {{ model }}
    group by {{ columns }}
    having count(*) > 1

{% endtest %}
