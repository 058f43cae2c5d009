{#-
    Generic reconciliation test for the funnel marts: summed over the mart rows matching
    `rows` (a condition, e.g. the national yearly rows), each mart column equals an aggregate over
    `fact` (a relation the caller names, e.g. ref('fct_lead_to_cash') or ref('fct_payments')).
    `totals` maps the mart's column to the fact's aggregate. Every event of the fact is then
    in exactly one such row: nothing fell outside the date spine, nothing was counted twice.
    Returns the columns that differ.
-#}
{% test totals_match_fact(model, fact, rows, totals) %}

    with

    facts as (

        select
            {%- for column, aggregate in totals.items() %}
            coalesce({{ aggregate }}, 0) as {{ column }}{% if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ fact }}

    ),

    mart as (

        select
            {%- for column in totals %}
            coalesce(sum({{ column }}), 0) as {{ column }}{% if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ model }}
        where {{ rows }}

    ),

    compared as (

        {%- for column in totals %}
        select
            '{{ column }}' as measure,
            facts.{{ column }} as in_fact,
            mart.{{ column }} as in_mart
        from facts
        cross join mart
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}

    )

    select * from compared
    where in_fact <> in_mart

{% endtest %}
