{#-
    A stable string id hashed from several columns, null-safe (dbt_utils.generate_surrogate_key is
    not available: no package hub). NULL and '' hash differently, and the separator keeps
    ('a', 'bc') apart from ('ab', 'c'). Uses dbt's cross-database hash/concat/cast macros.
-#}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append(
            "coalesce(" ~ dbt.cast(column, dbt.type_string()) ~ ", '<null>')"
        ) -%}
        {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
