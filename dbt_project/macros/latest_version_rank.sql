{#-
    Rank the raw-zone versions of each key, 1 = the version staging keeps.

    Exports are deltas or snapshots, so one key arrives many times: new versions, the same row
    re-sent, stale rows re-sent after a newer one, deletions (`is_deleted`). The latest version
    wins, judged in this order:
      1. `version_column` descending (the source system's change timestamp, e.g. `updated_at`),
         nulls last; entities without one (schema.py `version_column=None`) skip this step;
      2. `_export_date` descending: on a tie, the later export wins;
      3. `_source_line`, then `_source_file` descending: a key repeated inside one export keeps its
         last row (deterministic, so re-runs pick the same row).
    The caller keeps rank 1 and then drops the key if that version is a deletion.

    Portable: row_number() and `nulls last` exist on DuckDB, PostgreSQL, Spark, Trino, Snowflake
    and BigQuery (PostgreSQL sorts nulls first on `desc` without it).
-#}
{% macro latest_version_rank(key_columns, version_column=none) -%}
    row_number() over (
            partition by {{ key_columns | join(', ') }}
            order by
                {% if version_column %}{{ version_column }} desc nulls last,
                {% endif %}_export_date desc,
                _source_line desc,
                _source_file desc
        )
{%- endmacro %}
