{#-
    Use a model's custom schema as-is instead of dbt's default `<target_schema>_<custom_schema>`.

    The warehouse layout is a public contract: analysts and BI tools query
    `staging.*`, `marts.*` and `dq.*` by those exact names on every engine, and the PostgreSQL
    loader COPYs into `raw.*`. dbt's default would publish `main_marts` on DuckDB and
    `public_marts` on PostgreSQL. Separate environments get separate databases/files (the build
    file, a fresh PostgreSQL database per test run), not prefixed schemas.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
