{#-
    The precedence rules of region and business unit, shared by int_lead_regions (a lead) and
    int_deal_regions (a deal without a lead): the first source that gives a known code wins, else
    'UNKNOWN'. A caller lists the candidate columns it has, named `<source>_region` /
    `<source>_business_unit`; sources it cannot have (a deal has no province or campaign) are
    left out, the order stays the one below.

      region:         owner -> account -> province -> campaign -> 'UNKNOWN'
      business_unit:  owner -> account -> campaign -> industry -> 'UNKNOWN'
-#}
{% macro region_precedence(kind) -%}
    {%- if kind == 'region' -%}
        {{ return(['owner', 'account', 'province', 'campaign']) }}
    {%- else -%}
        {{ return(['owner', 'account', 'campaign', 'industry']) }}
    {%- endif -%}
{%- endmacro %}

{#- The resolved code: the first known candidate of `sources` (in precedence order), else 'UNKNOWN'. -#}
{% macro first_known_code(kind, sources) -%}
    {%- set columns = [] -%}
    {%- for source in region_precedence(kind) if source in sources -%}
        {%- do columns.append(source ~ '_' ~ kind) -%}
    {%- endfor -%}
    cast(coalesce({{ columns | join(', ') }}, 'UNKNOWN') as {{ dbt.type_string() }})
{%- endmacro %}

{#- Which source decided: the source's name, else 'unknown'. -#}
{% macro first_known_source(kind, sources) -%}
    cast(case
        {%- for source in region_precedence(kind) if source in sources %}
        when {{ source }}_{{ kind }} is not null then '{{ source }}'
        {%- endfor %}
        else 'unknown'
    end as {{ dbt.type_string() }})
{%- endmacro %}

{#- Join key of int_deal_regions: owner and account, a missing one as ''. -#}
{% macro deal_party_key(owner_column, account_column) -%}
    {{ dbt.concat(["coalesce(" ~ owner_column ~ ", '')", "'|'", "coalesce(" ~ account_column ~ ", '')"]) }}
{%- endmacro %}
