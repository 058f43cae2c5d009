{#-
    Every MA activity type in the data has a row in seed entry_activity_types, which says whether it
    enters (录入) a customer for seed 003's attribution rule. Returns the types without one; any row
    fails the build, so a new activity type never silently enters, nor silently stays out (the model
    treats an unknown type as not entering): add it to seeds/entry_activity_types.csv.
-#}

select
    activities.activity_type,
    count(*) as n_activities

from {{ ref('stg_ma__activities') }} as activities
left join {{ ref('entry_activity_types') }} as entry_types
    on activities.activity_type = entry_types.activity_type
where entry_types.activity_type is null
group by activities.activity_type
